/** Simulated EC2 Auto Scaling (AWS Query protocol over loopback HTTP). */
export { SimAutoScaling, type SimAutoScalingOptions, type SimInstanceListener } from './sim-autoscaling.js';
export type {
  CapacityType,
  SimActivityStatus,
  SimAsgActivity,
  SimAsgGroupSnapshot,
  SimAsgGroupSpec,
  SimAsgInstance,
  SimAsgLaunchTemplate,
  SimInstanceEvent,
  SimInstanceEventType,
  SimLifecycleState,
} from './model.js';
export { AsgApiError } from './errors.js';
