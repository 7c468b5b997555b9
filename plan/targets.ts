/** The kinds of thing a target group can name. Later kinds (kubernetes, toxiproxy) extend this union. */
export type TargetKind = 'local' | 'ssh';

/** One concrete thing a fault acts on, produced by the resolve phase. */
export interface Target {
  /** The plan's target group this target came from. */
  readonly group: string;
  readonly kind: TargetKind;
  /** Human-readable and unique within the game day: "local", later "kafka-1" or "ns/pod". */
  readonly name: string;
}
