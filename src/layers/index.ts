// Custom tfjs layers. Importing this module registers them for `tf.loadLayersModel`.
export {
  AddCoords,
  type AddCoordsArgs,
  addCoords,
  addCoordsLayer,
  type Conv2DLayerArgs,
  CoordConv2D,
  type CoordConv2DArgs,
  coordChannelCount,
  coordConv2d,
  coordinateValues,
  type DataFormat,
  scaledCoordinate,
} from './coordconv.js';
