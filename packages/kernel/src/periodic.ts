/**
 * Runs `task` every `seconds` (never two runs at once: a tick while one runs is skipped), reporting failures
 * to `onError`; `immediately` runs it once at start too. `close` stops the timer and waits for a run in progress.
 */
export function startPeriodic(
  task: () => Promise<unknown>,
  seconds: number,
  onError: (error: unknown) => void,
  options: { immediately?: boolean } = {},
): { close(): Promise<void> } {
  let running: Promise<unknown> | undefined;
  const run = () => {
    if (running) return;
    running = task()
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(run, seconds * 1000);
  timer.unref();
  if (options.immediately) run();
  return {
    close: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
