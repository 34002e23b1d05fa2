// SPDX-License-Identifier: MIT

//! The "crossbeam" peer: crossbeam-channel's benchmark workloads on crossbeam-channel 0.5.
//!
//! Usage: `crossbeam <scenario> <cap> <threads> <msgs>`
//!
//! * scenario: seq | spsc | mpsc | mpmc | select_rx | select_both | pingpong | select_shared
//! * cap: 0 | 1 | N | unbounded (`bounded(0)`, `bounded(1)`, `bounded(msgs)`, `unbounded()`)
//!
//! Prints one line, `impl=crossbeam scenario=... cap=... threads=... msgs=... secs=<s|n/a>`,
//! plus ` ns_per_op=<x>` for pingpong (per round trip) and select_shared (per select of one
//! worker). Every receiver has a quota, as in crossbeam's own benchmarks, so no disconnect is
//! needed to end a run; senders send 1..count and the receivers' sums are checked. Exit
//! status: 0 on a run or n/a, 1 when a check failed, 2 on a usage error.

use crossbeam_channel::{bounded, select, unbounded, Receiver, Select, Sender};
use std::process::exit;
use std::thread;
use std::time::{Duration, Instant};

type Msg = u64;

/// `None` is unbounded.
type Cap = Option<usize>;

fn new_chan(cap: Cap) -> (Sender<Msg>, Receiver<Msg>) {
    match cap {
        Some(n) => bounded(n),
        None => unbounded(),
    }
}

/// 1 + 2 + ... + n modulo 2^64, like the receivers' sums.
fn tri(n: u64) -> u64 {
    (n as u128 * (n as u128 + 1) / 2) as u64
}

fn die(what: &str) -> ! {
    eprintln!("crossbeam peer: {}", what);
    exit(1);
}

fn check_sum(got: u64, want: u64) {
    if got != want {
        die("wrong sum of received values (lost, doubled or corrupted messages)");
    }
}

fn send_all(tx: &Sender<Msg>, count: u64) {
    for i in 1..=count {
        tx.send(i).unwrap_or_else(|_| die("send failed"));
    }
}

fn recv_sum(rx: &Receiver<Msg>, count: u64) -> u64 {
    let mut sum: u64 = 0;
    for _ in 0..count {
        sum = sum.wrapping_add(rx.recv().unwrap_or_else(|_| die("receive failed")));
    }
    sum
}

/// Runs one scenario: the wall time from channel creation to the last message and the count that ns_per_op
/// divides by, or `None` for a row that cannot run.
fn run(scenario: &str, cap: Cap, threads: usize, msgs: u64) -> Option<(Duration, u64)> {
    let per = msgs / threads as u64;

    match scenario {
        "seq" => {
            // One thread fills the channel, then drains it: needs room for all msgs.
            if matches!(cap, Some(n) if (n as u64) < msgs) {
                return None;
            }
            let t0 = Instant::now(); // creation included, as in crossbeam's own suite
            let (tx, rx) = new_chan(cap);
            send_all(&tx, msgs);
            let sum = recv_sum(&rx, msgs);
            let elapsed = t0.elapsed();
            check_sum(sum, tri(msgs));
            Some((elapsed, msgs))
        }
        "spsc" | "mpsc" | "mpmc" => {
            let (nsend, nrecv, send_count, recv_count) = match scenario {
                "spsc" => (1, 1, msgs, msgs),
                "mpsc" => (threads, 1, per, per * threads as u64),
                _ => (threads, threads, per, per),
            };
            let t0 = Instant::now(); // creation included, as in crossbeam's own suite
            let (tx, rx) = new_chan(cap);
            let sum = thread::scope(|s| {
                let receivers: Vec<_> = (0..nrecv)
                    .map(|_| s.spawn(|| recv_sum(&rx, recv_count)))
                    .collect();
                for _ in 0..nsend {
                    s.spawn(|| send_all(&tx, send_count));
                }
                receivers
                    .into_iter()
                    .fold(0u64, |acc, h| acc.wrapping_add(h.join().unwrap()))
            });
            let elapsed = t0.elapsed();
            check_sum(sum, tri(send_count).wrapping_mul(nsend as u64));
            Some((elapsed, msgs))
        }
        "select_rx" => {
            // T channels, each fed by its own sender; one receiver selects over all of them.
            let t0 = Instant::now(); // creation included
            let chans: Vec<_> = (0..threads).map(|_| new_chan(cap)).collect();
            let sum = thread::scope(|s| {
                for (tx, _) in &chans {
                    s.spawn(move || send_all(tx, per));
                }
                let receiver = s.spawn(|| {
                    // One Select, reused: select() only borrows it.
                    let mut sel = Select::new();
                    for (_, rx) in &chans {
                        sel.recv(rx);
                    }
                    let mut sum: u64 = 0;
                    for _ in 0..per * threads as u64 {
                        let op = sel.select();
                        let i = op.index();
                        let v = op
                            .recv(&chans[i].1)
                            .unwrap_or_else(|_| die("receive failed"));
                        sum = sum.wrapping_add(v);
                    }
                    sum
                });
                receiver.join().unwrap()
            });
            let elapsed = t0.elapsed();
            check_sum(sum, tri(per).wrapping_mul(threads as u64));
            Some((elapsed, msgs))
        }
        "select_both" => {
            // T senders select-send on any of T channels; T receivers select-receive.
            let t0 = Instant::now(); // creation included
            let chans: Vec<_> = (0..threads).map(|_| new_chan(cap)).collect();
            let sum = thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        let mut sel = Select::new();
                        for (tx, _) in &chans {
                            sel.send(tx);
                        }
                        for v in 1..=per {
                            let op = sel.select();
                            let i = op.index();
                            op.send(&chans[i].0, v)
                                .unwrap_or_else(|_| die("send failed"));
                        }
                    });
                }
                let receivers: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            let mut sel = Select::new();
                            for (_, rx) in &chans {
                                sel.recv(rx);
                            }
                            let mut sum: u64 = 0;
                            for _ in 0..per {
                                let op = sel.select();
                                let i = op.index();
                                let v = op
                                    .recv(&chans[i].1)
                                    .unwrap_or_else(|_| die("receive failed"));
                                sum = sum.wrapping_add(v);
                            }
                            sum
                        })
                    })
                    .collect();
                receivers
                    .into_iter()
                    .fold(0u64, |acc, h| acc.wrapping_add(h.join().unwrap()))
            });
            let elapsed = t0.elapsed();
            check_sum(sum, tri(per).wrapping_mul(threads as u64));
            Some((elapsed, msgs))
        }
        "pingpong" => {
            // A sends v on ab, B answers v+1 on ba: ROUNDS = msgs/10 serial round trips.
            let rounds = (msgs / 10).max(1);
            let (ab_tx, ab_rx) = new_chan(cap);
            let (ba_tx, ba_rx) = new_chan(cap);
            let t0 = Instant::now();
            let last = thread::scope(|s| {
                let a = s.spawn(|| {
                    let mut v: Msg = 0;
                    for _ in 0..rounds {
                        ab_tx.send(v).unwrap_or_else(|_| die("send failed"));
                        v = ba_rx.recv().unwrap_or_else(|_| die("receive failed"));
                    }
                    v
                });
                s.spawn(|| {
                    for _ in 0..rounds {
                        let v = ab_rx.recv().unwrap_or_else(|_| die("receive failed"));
                        ba_tx.send(v + 1).unwrap_or_else(|_| die("send failed"));
                    }
                });
                a.join().unwrap()
            });
            let elapsed = t0.elapsed();
            if last != rounds {
                die("pingpong: lost a round trip");
            }
            Some((elapsed, rounds))
        }
        "select_shared" => {
            // Worker i selects ITERS = msgs/T times over {send on its private capacity-1
            // channel, receive from it, receive from one shared channel (capacity <cap>) that
            // nobody sends on or disconnects}; each select fires one of the first two cases.
            let (shared_tx, shared_rx) = new_chan(cap);
            let t0 = Instant::now();
            let all_ok = thread::scope(|s| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            let (ptx, prx) = bounded::<Msg>(1);
                            let (mut next, mut sent, mut recvd, mut sum) = (1u64, 0u64, 0u64, 0u64);
                            for _ in 0..per {
                                select! {
                                    send(ptx, next) -> r => {
                                        r.unwrap_or_else(|_| die("send failed"));
                                        next += 1;
                                        sent += 1;
                                    }
                                    recv(prx) -> r => {
                                        sum += r.unwrap_or_else(|_| die("receive failed"));
                                        recvd += 1;
                                    }
                                    recv(shared_rx) -> _ => return false,
                                }
                            }
                            sent + recvd == per && sent - recvd <= 1 && sum == tri(recvd)
                        })
                    })
                    .collect();
                workers.into_iter().all(|h| h.join().unwrap())
            });
            let elapsed = t0.elapsed();
            drop(shared_tx); // kept alive to here, so the shared channel never disconnects
            if !all_ok {
                die("select_shared: a select fired the wrong case");
            }
            Some((elapsed, per))
        }
        _ => None,
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: crossbeam <seq|spsc|mpsc|mpmc|select_rx|select_both|pingpong|select_shared> \
         <0|1|N|unbounded> <threads> <msgs>"
    );
    exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        usage();
    }
    let (scenario, cap_arg) = (args[1].as_str(), args[2].as_str());
    const SCENARIOS: [&str; 8] = [
        "seq",
        "spsc",
        "mpsc",
        "mpmc",
        "select_rx",
        "select_both",
        "pingpong",
        "select_shared",
    ];
    let threads: usize = args[3].parse().unwrap_or_else(|_| usage());
    let msgs: u64 = args[4].parse().unwrap_or_else(|_| usage());
    if !SCENARIOS.contains(&scenario)
        || !(1..=256).contains(&threads)
        || msgs < threads as u64
        || msgs > 1 << 31
    {
        usage();
    }
    let cap: Cap = match cap_arg {
        "0" => Some(0),
        "1" => Some(1),
        "N" => Some(msgs as usize),
        "unbounded" => None,
        _ => usage(),
    };

    let head = format!(
        "impl=crossbeam scenario={} cap={} threads={} msgs={} secs=",
        scenario, cap_arg, threads, msgs
    );
    match run(scenario, cap, threads, msgs) {
        None => println!("{}n/a", head),
        Some((elapsed, ops)) if scenario == "pingpong" || scenario == "select_shared" => println!(
            "{}{:.6} ns_per_op={:.1}",
            head,
            elapsed.as_secs_f64(),
            elapsed.as_nanos() as f64 / ops as f64
        ),
        Some((elapsed, _)) => println!("{}{:.6}", head, elapsed.as_secs_f64()),
    }
}
