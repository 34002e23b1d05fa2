// SPDX-License-Identifier: MIT
//! The tokio side of bench/pubsub_bench.c (same arguments, same output lines):
//!
//!     tokio_pubsub [-q]                               the whole matrix
//!     tokio_pubsub fanout SUBS PAYLOAD BURST COPIES   one run
//!     tokio_pubsub churn RATE MSGS                    one run
//!
//!     tokio_pubsub -l fanout|churn ...                the same, lossy (impl=tokio_lossy)
//!
//! tokio::sync::broadcast with capacity 256: one shared ring, each receiver a
//! task on a multi-thread runtime (one worker per CPU) that clones the value
//! it receives. A broadcast sender never waits: a receiver that falls more
//! than 256 behind loses the oldest messages (RecvError::Lagged(n), as
//! DROP_OLDEST). To compare with lossless fan-out (impl=tokio) the publisher
//! paces itself: every 128 messages it waits (yielding) until every receiver
//! has taken all but the last 128, so none lags; each receiver publishes its
//! count in its own atomic. impl=tokio_lossy (-l) does not pace: copies= is
//! then below msgs x subs and lagged= says how many were skipped;
//! ns_per_copy is still time / (msgs x subs). There are
//! no bursts: burst 64 rows send their 64 messages one by one. PAYLOAD 8
//! (u64), 256 ([u64; 32]) or ptr (Arc: the receiver's clone is the
//! reference count, its drop gives it back). churn: 4 receivers, payload 8,
//! and a thread making RATE subscribe+drop pairs per second.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

const CAPACITY: usize = 256;

trait Payload: Clone + Send + 'static {
    fn mk(v: u64) -> Self;
    fn val(&self) -> u64;
}

impl Payload for u64 {
    fn mk(v: u64) -> Self {
        v
    }
    fn val(&self) -> u64 {
        *self
    }
}

impl Payload for [u64; 32] {
    fn mk(v: u64) -> Self {
        let mut a = [0u64; 32];
        a[31] = v;
        a
    }
    fn val(&self) -> u64 {
        self[31]
    }
}

struct Obj {
    v: u64,
}

impl Payload for Arc<Obj> {
    fn mk(v: u64) -> Self {
        Arc::new(Obj { v })
    }
    fn val(&self) -> u64 {
        self.v
    }
}

#[repr(align(64))]
struct Count(std::sync::atomic::AtomicU64);

fn run<T: Payload>(
    rt: &tokio::runtime::Runtime,
    lossy: bool,
    bench: &str,
    subs: usize,
    pname: &str,
    burst: usize,
    msgs: u64,
    rate: i64,
) -> bool {
    let (tx, _) = broadcast::channel::<T>(CAPACITY);
    let mut handles = Vec::with_capacity(subs);
    let counts: Arc<Vec<Count>> =
        Arc::new((0..subs).map(|_| Count(std::sync::atomic::AtomicU64::new(0))).collect());
    for i in 0..subs {
        let mut rx = tx.subscribe();
        let counts = counts.clone();
        handles.push(rt.spawn(async move {
            let (mut got, mut sum, mut lagged) = (0u64, 0u64, 0u64);
            loop {
                match rx.recv().await {
                    Ok(v) => {
                        got += 1;
                        sum += v.val();
                        counts[i].0.store(got, std::sync::atomic::Ordering::Release);
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => lagged += n,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            (got, sum, lagged)
        }));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churner = if rate > 0 {
        let tx2 = tx.clone();
        let stop2 = stop.clone();
        Some(std::thread::spawn(move || {
            let t0 = Instant::now();
            let period = Duration::from_nanos(1_000_000_000 / rate as u64);
            let mut n: u32 = 0;
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let due = t0 + period * n;
                let now = Instant::now();
                if now < due {
                    std::thread::sleep(due - now);
                    continue;
                }
                drop(tx2.subscribe());
                n += 1;
            }
            n as f64 / t0.elapsed().as_secs_f64()
        }))
    } else {
        None
    };
    let t0 = Instant::now();
    for i in 0..msgs {
        if !lossy && i % 128 == 0 && i >= 128 {
            for c in counts.iter() {
                while c.0.load(std::sync::atomic::Ordering::Acquire) < i - 128 {
                    std::thread::yield_now();
                }
            }
        }
        let _ = tx.send(T::mk(i + 1));
    }
    let churned = match churner {
        Some(h) => {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            h.join().unwrap()
        }
        None => 0.0,
    };
    drop(tx);
    let (mut got, mut sum, mut lagged) = (0u64, 0u64, 0u64);
    for h in handles {
        let (g, s, l) = rt.block_on(h).unwrap();
        got += g;
        sum += s;
        lagged += l;
    }
    let el = t0.elapsed();
    let ns = el.as_nanos() as f64;
    if rate < 0 {
        println!(
            "bench={} impl={} subs={} payload={} burst={} msgs={} copies={} lagged={} secs={:.3} ns_per_publish={:.1} ns_per_copy={:.2}",
            bench, if lossy { "tokio_lossy" } else { "tokio" }, subs, pname, burst, msgs, got, lagged, el.as_secs_f64(),
            ns / msgs as f64, ns / (msgs as f64 * subs as f64)
        );
    } else {
        println!(
            "bench={} impl={} rate={} subs={} msgs={} secs={:.3} ns_per_publish={:.1} churned={:.0} lagged={}",
            bench, if lossy { "tokio_lossy" } else { "tokio" }, rate, subs, msgs, el.as_secs_f64(), ns / msgs as f64, churned, lagged
        );
    }
    let want = msgs * subs as u64;
    if got + lagged != want || (lagged == 0 && sum != msgs * (msgs + 1) / 2 * subs as u64) {
        eprintln!("tokio_pubsub: received {} + lagged {} of {} copies (or a wrong sum)", got, lagged, want);
        return false;
    }
    true
}

fn fanout(rt: &tokio::runtime::Runtime, lossy: bool, subs: usize, pname: &str, burst: usize, copies: u64) -> bool {
    let msgs = std::cmp::max(copies / subs as u64, 64);
    match pname {
        "8" => run::<u64>(rt, lossy, "pubsub_fanout", subs, pname, burst, msgs, -1),
        "256" => run::<[u64; 32]>(rt, lossy, "pubsub_fanout", subs, pname, burst, msgs, -1),
        _ => run::<Arc<Obj>>(rt, lossy, "pubsub_fanout", subs, pname, burst, msgs, -1),
    }
}

fn usage() -> ! {
    eprintln!("usage: tokio_pubsub [-q] | [-l] fanout SUBS 8|256|ptr 1|64 COPIES | [-l] churn RATE MSGS");
    std::process::exit(2)
}

fn num(s: &str) -> i64 {
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => n,
        _ => usage(),
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let lossy = args.first().map(|a| a == "-l").unwrap_or(false);
    if lossy {
        args.remove(0);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let ok = match a.as_slice() {
        ["fanout", s, p, b, c] => {
            let (s, b) = (num(s), num(b));
            if s < 1 || (b != 1 && b != 64) || !["8", "256", "ptr"].contains(p) {
                usage();
            }
            fanout(&rt, lossy, s as usize, p, b as usize, num(c) as u64)
        }
        ["churn", r, m] => run::<u64>(&rt, lossy, "pubsub_churn", 4, "8", 1, num(m) as u64, num(r)),
        [] | ["-q"] if !lossy => {
            let (copies, churn_msgs) = if a.is_empty() { (2_000_000, 1_000_000) } else { (200_000, 100_000) };
            let mut ok = true;
            for l in [false, true] {
                for s in [1usize, 4, 16, 64, 256, 1024] {
                    for p in ["8", "256", "ptr"] {
                        for b in [1usize, 64] {
                            ok &= fanout(&rt, l, s, p, b, copies);
                        }
                    }
                }
                for r in [0i64, 1000, 10000] {
                    ok &= run::<u64>(&rt, l, "pubsub_churn", 4, "8", 1, churn_msgs, r);
                }
            }
            ok
        }
        _ => usage(),
    };
    std::process::exit(if ok { 0 } else { 1 });
}
