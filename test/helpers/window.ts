/**
 * Reads the seeds running at each point of a parent's history, as the parent sees them: a seed starts with its
 * child workflow and ends when it reports (`seedFinished` / `seedStopped`), or when its workflow closes first.
 */
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface WindowStep {
  /** The event that changed the window. */
  event: HistoryEvent;
  /** Seeds running after it. */
  running: number;
  /** A seed started (true) or ended (false) at this event. */
  started: boolean;
}

export function windowTimeline(parentId: string, events: readonly HistoryEvent[]): WindowStep[] {
  const running = new Set<string>();
  const steps: WindowStep[] = [];
  const end = (id: string, event: HistoryEvent) => {
    if (running.delete(id)) steps.push({ event, running: running.size, started: false });
  };
  for (const e of events) {
    const init = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (init) {
      running.add(init.workflowId ?? '');
      steps.push({ event: e, running: running.size, started: true });
    }
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'seedFinished' || signal?.signalName === 'seedStopped') {
      const data = signal.input?.payloads?.[0]?.data;
      if (data) end(`${parentId}/${(JSON.parse(Buffer.from(data).toString('utf8')) as { source_id: string }).source_id}`, e);
    }
    const closed =
      e.childWorkflowExecutionCompletedEventAttributes ??
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionTimedOutEventAttributes ??
      e.childWorkflowExecutionCanceledEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes;
    if (closed) end(closed.workflowExecution?.workflowId ?? '', e);
    const failedStart = e.startChildWorkflowExecutionFailedEventAttributes;
    if (failedStart) end(failedStart.workflowId ?? '', e);
  }
  return steps;
}
