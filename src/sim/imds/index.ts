export { SimImds, type SimImdsOptions, type SimImdsFault, type SimImdsMode } from './server.js';
export {
  SPOT_WARNING_MS,
  type SimImdsInstance,
  type SimScheduledEvent,
  type SimSpotInterruption,
  type SimRebalanceRecommendation,
} from './metadata.js';
export { formatAwsEventDate, formatNoticeTime } from './formats.js';
