// RMSprop in TensorFlow 1.x's form, as Stable-Baselines3's RMSpropTFLike uses for A2C on Atari:
// epsilon inside the square root and the mean-square slots initialised to ONES (tfjs's own
// RMSPropOptimizer starts them at zero, which makes the first updates ~1/sqrt(1-decay) = 10x
// larger and changes early training). State round-trips through getWeights/setWeights, matched
// by position, so checkpoints restore it exactly when the variable list keeps its order.
import { tf } from '../tf.js';

type NamedTensor = { name: string; tensor: tf.Tensor };

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

export class RMSpropTF extends tf.Optimizer {
  static className = 'RMSpropTF';
  private slots: Slot[] = [];

  constructor(
    public learningRate: number,
    public readonly decay = 0.99,
    public readonly epsilon = 1e-5,
  ) {
    super();
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    names.forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      if (!this.slots[i]) {
        this.slots[i] = { originalName: `${name}/rms`, variable: tf.tidy(() => tf.onesLike(value).variable(false)) };
      }
      const grad = Array.isArray(variableGradients) ? variableGradients[i].tensor : variableGradients[name];
      if (grad == null) return;
      const ms = this.slots[i].variable;
      tf.tidy(() => {
        const newMs = tf.add(tf.mul(ms, this.decay), tf.mul(tf.square(grad), 1 - this.decay));
        ms.assign(newMs);
        value.assign(tf.sub(value, tf.div(tf.mul(grad, this.learningRate), tf.sqrt(tf.add(newMs, this.epsilon)))));
      });
    });
    this.incrementIterations();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...this.slots.map((s) => ({ name: s.originalName, tensor: s.variable }))];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const s of this.slots) s.variable.dispose();
    this.slots = rest.map((v) => ({ originalName: v.name, variable: v.tensor.variable(false) }));
  }

  override dispose(): void {
    for (const s of this.slots) s.variable.dispose();
    this.slots = [];
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, decay: this.decay, epsilon: this.epsilon };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config.learningRate, config.decay, config.epsilon);
  }
}
tf.serialization.registerClass(RMSpropTF);
