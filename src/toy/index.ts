// The supervised coordinate experiments of Liu et al. (2018) on Not-so-Clevr data.
export * from './data.js';
export * from './models.js';
export * from './train.js';
