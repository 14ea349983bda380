// Keras .h5 weight files (save_weights, or a whole saved model's model_weights group): every
// dataset "<layer>/<layer>/<weight>:0" becomes a Keras array by layer and weight name.
import { readH5Datasets } from '../io/hdf5.js';
import { addKerasArray, type KerasWeights } from './keras-weights.js';

export function readH5Weights(file: string): KerasWeights {
  const kw: KerasWeights = new Map();
  for (const ds of readH5Datasets(file)) {
    if (ds.path.split('/').length < 2) continue; // not a layer's weight
    addKerasArray(kw, ds.path, { shape: ds.shape, data: ds.data });
  }
  if (kw.size === 0) throw new Error(`${file} holds no Keras layer weights`);
  return kw;
}
