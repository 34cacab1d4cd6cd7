import type { NoticeSource } from '../../src/monitors/notice-source.js';

type ScheduledEvents = Awaited<ReturnType<NoticeSource['getScheduledEvents']>>;

/** A scripted NoticeSource: tests set what IMDS answers now. */
export class FakeSource implements NoticeSource {
  itn: { action: string; time: Date } | null = null;
  rebalance: { noticeTime: Date } | null = null;
  scheduled: ScheduledEvents = [];
  lifecycle: string | null = null;
  async getSpotInstanceAction() {
    return this.itn;
  }
  async getRebalanceRecommendation() {
    return this.rebalance;
  }
  async getScheduledEvents() {
    return this.scheduled;
  }
  async getTargetLifecycleState() {
    return this.lifecycle;
  }
}
