// "As you type" requests: wait until typing pauses, then run; answers to older inputs are dropped,
// so a slow reply for "https://de" never overwrites the one for "https://dex.example.com".

export type LatestHandlers<R> = {
  /** The request for the latest input starts (after the pause). */
  onStart?: () => void;
  onResult: (result: R) => void;
  onError: (error: unknown) => void;
};

export type DebouncedLatest<A> = {
  /** Schedules a request for `input`, cancelling any pending or running older one. */
  run: (input: A) => void;
  /** Forgets pending and running requests (their answers are dropped). */
  cancel: () => void;
};

export function debouncedLatest<A, R>(
  request: (input: A) => Promise<R>,
  delayMs: number,
  handlers: LatestHandlers<R>,
): DebouncedLatest<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let generation = 0;

  const cancel = () => {
    generation += 1;
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };

  const run = (input: A) => {
    cancel();
    const mine = generation;
    timer = setTimeout(() => {
      timer = null;
      handlers.onStart?.();
      request(input).then(
        (result) => {
          if (mine === generation) handlers.onResult(result);
        },
        (error: unknown) => {
          if (mine === generation) handlers.onError(error);
        },
      );
    }, delayMs);
  };

  return { run, cancel };
}
