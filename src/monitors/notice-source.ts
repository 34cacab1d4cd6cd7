/**
 * What the monitors need from IMDS. The IMDS client implements it; monitors stay testable with any
 * source and never see HTTP.
 */
export interface NoticeSource {
  getSpotInstanceAction(signal?: AbortSignal): Promise<{ action: string; time: Date } | null>;
  getRebalanceRecommendation(signal?: AbortSignal): Promise<{ noticeTime: Date } | null>;
  getScheduledEvents(signal?: AbortSignal): Promise<
    Array<{ code: string; description: string; state: 'active' | 'completed' | 'canceled'; eventId: string; notBefore: Date; notAfter?: Date }>
  >;
  getTargetLifecycleState(signal?: AbortSignal): Promise<string | null>;
}
