//! Frame-parallel decoding: several [`Decoder`]s, each on its own thread.
//!
//! One frame does not keep two cores busy: the entropy model's context
//! networks and the arithmetic decoder run on one thread, and the synthesis
//! transform scales poorly from one intra-op thread to two. Keyframes (I- and
//! X-units only) need nothing from earlier frames, so two of them can be
//! decoded at once, each on one core. That is how the I-frame decode rate
//! reaches its target on 2 cores (`pipelines/bench-speed.sh`).
//!
//! Rules, which keep the output exactly that of one [`Decoder`] fed the same
//! frames in order:
//! - a keyframe goes to the least busy worker;
//! - any other frame goes to the worker that got the frame before it, queued
//!   behind it, because that worker holds its reference (a P-frame chain runs
//!   on one worker; only keyframes overlap);
//! - before each frame its worker is handed the sequence header one decoder
//!   would hold at that point (the last one in front of an intact unit), so
//!   a worker that skipped the keyframe decodes with the same header;
//! - results come back through [`Ticket`]s, which the caller redeems in
//!   submission order.
//!
//! Outputs do not depend on the thread counts (see `runtime` and
//! `tests/frame_threads.rs`), so which worker decodes a frame does not matter.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use crate::bitstream::{self, ModelId, SequenceHeader};
use crate::runtime::ExecutionProvider;
use crate::{DecodedFrame, Decoder, DecoderConfig, Error, Result};

enum Job {
    Decode(Vec<u8>, Sender<Result<DecodedFrame>>),
    /// A header the worker must hold before its next frame; `None` reply:
    /// it came from the stream itself, and a frame reports its errors.
    Header(Vec<u8>, Option<Sender<Result<SequenceHeader>>>),
    Reset,
}

struct Worker {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    /// Frames sent and not yet decoded.
    busy: Arc<AtomicUsize>,
    /// Bytes of the sequence header this worker was last given.
    header: Option<Vec<u8>>,
}

/// What the first worker's decoder reports once its packages are loaded.
#[derive(Debug, Clone)]
pub struct DecoderInfo {
    pub execution_provider: ExecutionProvider,
    pub accepted_model_ids: Vec<ModelId>,
    pub inter_coding: bool,
}

/// A decoded frame to come, in the order of [`FrameThreadedDecoder::submit`].
pub struct Ticket(Receiver<Result<DecodedFrame>>);

impl Ticket {
    /// Waits for the frame.
    pub fn wait(self) -> Result<DecodedFrame> {
        self.0.recv().unwrap_or_else(|_| Err(worker_gone()))
    }

    /// The frame if it is decoded, else the ticket back.
    pub fn try_take(self) -> std::result::Result<Result<DecodedFrame>, Ticket> {
        match self.0.try_recv() {
            Ok(r) => Ok(r),
            Err(TryRecvError::Empty) => Err(self),
            Err(TryRecvError::Disconnected) => Ok(Err(worker_gone())),
        }
    }
}

fn worker_gone() -> Error {
    Error::Runtime("a decoder thread stopped (it panicked; see the log)".into())
}

pub struct FrameThreadedDecoder {
    workers: Vec<Worker>,
    info: DecoderInfo,
    /// Worker of the last submitted frame.
    last: Option<usize>,
    /// The stream's latest sequence header (from the caller or a frame).
    header: Option<Vec<u8>>,
    /// Whether a frame was ever submitted.
    submitted: bool,
}

impl FrameThreadedDecoder {
    /// `frames` decoders (at least 1), each with `cfg` (its `threads` are per
    /// decoder). Fails like [`Decoder::new`] when a package cannot be loaded.
    /// The decoders load their packages in parallel.
    pub fn new(cfg: DecoderConfig, frames: usize) -> Result<Self> {
        let started: Vec<_> = (0..frames.max(1)).map(|i| spawn_worker(i, &cfg)).collect::<Result<_>>()?;
        let mut workers = Vec::new();
        let mut info = None;
        for (worker, ready) in started {
            workers.push(worker);
            info.get_or_insert(ready.recv().unwrap_or_else(|_| Err(worker_gone()))?);
        }
        Ok(Self { workers, info: info.expect("at least one worker"), last: None, header: None, submitted: false })
    }

    /// Keeps the first `frames` decoders (at least 1) and stops the others,
    /// if no frame was submitted yet (returns whether it did): a decoder
    /// dropped later could hold the reference of the next P-frame.
    pub fn shrink_before_first_frame(&mut self, frames: usize) -> bool {
        if self.submitted {
            return false;
        }
        self.workers.truncate(frames.max(1)); // Worker's drop ends its thread
        self.last = None;
        true
    }

    pub fn info(&self) -> &DecoderInfo {
        &self.info
    }

    /// Decoders working side by side.
    pub fn frames(&self) -> usize {
        self.workers.len()
    }

    /// Takes a sequence header on its own (caps `streamheader`), as
    /// [`Decoder::set_sequence_header`] does; applies after the frames already
    /// submitted, so it waits for them.
    pub fn set_sequence_header(&mut self, bytes: &[u8]) -> Result<SequenceHeader> {
        let replies: Vec<_> = self
            .workers
            .iter_mut()
            .map(|w| {
                let (tx, rx) = mpsc::channel();
                w.header = Some(bytes.to_vec());
                send(w, Job::Header(bytes.to_vec(), Some(tx)));
                rx
            })
            .collect();
        self.header = Some(bytes.to_vec());
        // Every decoder holds the same packages, so they all give the same answer.
        replies.into_iter().map(|rx| rx.recv().unwrap_or_else(|_| Err(worker_gone()))).last().expect("a worker")
    }

    /// Queues one frame (its access units, as [`Decoder::decode`] takes them).
    pub fn submit(&mut self, data: Vec<u8>) -> Ticket {
        let w = match self.last {
            Some(last) if !bitstream::is_keyframe(&data) => last,
            _ => self.least_busy(),
        };
        let worker = &mut self.workers[w];
        // The header one decoder would hold before this frame...
        if worker.header != self.header
            && let Some(h) = &self.header
        {
            worker.header = Some(h.clone());
            send(worker, Job::Header(h.clone(), None));
        }
        // ...and after it: a decoder takes a frame's header only when the unit
        // under it is intact.
        if let Some(h) = accepted_header(&data) {
            worker.header = Some(h.clone());
            self.header = Some(h);
        }
        let (tx, rx) = mpsc::channel();
        self.submitted = true;
        worker.busy.fetch_add(1, Ordering::SeqCst);
        send(worker, Job::Decode(data, tx));
        self.last = Some(w);
        Ticket(rx)
    }

    /// Forgets references and headers (flush / seek), after the frames
    /// already submitted; drop their tickets to discard them.
    pub fn reset(&mut self) {
        for w in &mut self.workers {
            w.header = None;
            send(w, Job::Reset);
        }
        self.header = None;
        self.last = None;
    }

    /// The worker with the fewest frames queued; ties go to the one after the
    /// last used, so keyframes alternate.
    fn least_busy(&self) -> usize {
        let n = self.workers.len();
        let start = self.last.map_or(0, |l| l + 1);
        (0..n).map(|i| (start + i) % n).min_by_key(|&i| self.workers[i].busy.load(Ordering::SeqCst)).expect("a worker")
    }
}

/// Worker `i`, and where it says whether its decoder loaded the packages.
fn spawn_worker(i: usize, cfg: &DecoderConfig) -> Result<(Worker, Receiver<Result<DecoderInfo>>)> {
    let (jobs, rx) = mpsc::channel();
    let (ready_tx, ready) = mpsc::channel();
    let busy = Arc::new(AtomicUsize::new(0));
    let (cfg, counter) = (cfg.clone(), busy.clone());
    let thread = std::thread::Builder::new()
        .name(format!("helio-dec-{i}"))
        .spawn(move || run_worker(cfg, rx, counter, ready_tx))
        .map_err(|e| Error::Runtime(format!("cannot start decoder thread {i}: {e}")))?;
    Ok((Worker { jobs: Some(jobs), thread: Some(thread), busy, header: None }, ready))
}

/// The sequence header in front of a frame whose first unit passes its checks.
fn accepted_header(data: &[u8]) -> Option<Vec<u8>> {
    let units = bitstream::split_units(data, None).ok()?;
    let first = units.first()?;
    let h = bitstream::parse_access_unit(first, None).ok()?.header?;
    Some(first[..h.encoded_len()].to_vec())
}

/// A dead worker drops the job, and with it the reply sender: its ticket then
/// reports [`worker_gone`].
fn send(w: &Worker, job: Job) {
    if let Some(jobs) = &w.jobs {
        let _ = jobs.send(job);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.jobs = None; // ends the worker's loop once its queue is done
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run_worker(cfg: DecoderConfig, jobs: Receiver<Job>, busy: Arc<AtomicUsize>, ready: Sender<Result<DecoderInfo>>) {
    let mut decoder = match Decoder::new(cfg) {
        Ok(d) => d,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let info = DecoderInfo {
        execution_provider: decoder.execution_provider_in_use(),
        accepted_model_ids: decoder.accepted_model_ids(),
        inter_coding: decoder.inter_coding(),
    };
    let _ = ready.send(Ok(info));
    for job in jobs {
        match job {
            Job::Decode(data, reply) => {
                let result = decoder.decode(&data);
                busy.fetch_sub(1, Ordering::SeqCst);
                let _ = reply.send(result);
            }
            Job::Header(bytes, reply) => {
                let result = decoder.set_sequence_header(&bytes);
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Job::Reset => decoder.reset(),
        }
    }
}
