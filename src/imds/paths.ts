/** IMDS paths the agent reads (relative to the base URL). */
export const IMDS_PATHS = {
  token: '/latest/api/token',
  spotInstanceAction: '/latest/meta-data/spot/instance-action',
  rebalanceRecommendation: '/latest/meta-data/events/recommendations/rebalance',
  scheduledEvents: '/latest/meta-data/events/maintenance/scheduled',
  targetLifecycleState: '/latest/meta-data/autoscaling/target-lifecycle-state',
  identityDocument: '/latest/dynamic/instance-identity/document',
  instanceLifeCycle: '/latest/meta-data/instance-life-cycle',
  localHostname: '/latest/meta-data/local-hostname',
  publicHostname: '/latest/meta-data/public-hostname',
  publicIpv4: '/latest/meta-data/public-ipv4',
} as const;

export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
/** EC2 accepts token TTLs of 1 s to 6 h. */
export const MAX_TOKEN_TTL_SECONDS = 21600;
