// Types for the part of jStat (jstat 1.9.6, MIT; it ships no declarations) that src/stats uses.
declare module 'jstat' {
  interface Distribution {
    cdf(x: number, ...params: number[]): number;
    inv(p: number, ...params: number[]): number;
  }
  const pkg: {
    jStat: {
      studentt: Distribution;
      normal: Distribution;
      noncentralt: { cdf(x: number, dof: number, ncp: number): number };
    };
  };
  // A CommonJS module: Node's ESM loader gives only its default export.
  export default pkg;
}
