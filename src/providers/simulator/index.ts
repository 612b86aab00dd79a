/**
 * Embedded OpenAI-compatible simulator: the service's offline default
 * provider and the target of every test and benchmark. Importing this module
 * starts nothing; call {@link startSimulator}.
 */
export { startSimulator } from './server.ts';
export { SimulatorConfigError, defaultBehavior, validateBehavior } from './behavior.ts';
export type {
  AnswerContext,
  AnswerFn,
  AnswerSpec,
  FaultRate,
  FaultSpec,
  Latency,
  PromptRule,
  RecordedRequest,
  RequestOutcome,
  ScriptTurn,
  ScriptedToolCall,
  Simulator,
  SimulatorBehavior,
  SimulatorOptions,
  SimulatorStats,
  UsageOverride,
  WeightedValue,
} from './types.ts';
