//! Agent benchmarks (issue 2); figures go to BENCHMARKS.md. Not timed tests: nothing here asserts a
//! duration. Run all with `cargo bench --bench agent`, or one with
//! `-- latency|throughput|bigfile|observability`.
//! `BENCH_DIR` chooses the scratch folder (default: the system temp folder).

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};

mod support;
use support::measured;

const BIN: &str = env!("CARGO_BIN_EXE_cartferry");

const HEADER: &str = "order_id,order_date,currency,shipping_method,ship_to_first_name,ship_to_last_name,ship_to_company,ship_to_address1,ship_to_address2,ship_to_city,ship_to_state,ship_to_postal_code,ship_to_country,ship_to_email,ship_to_phone,notes,line_number,sku,quantity,unit_price,description\n";

fn order_rows(out: &mut impl Write, first: u64, orders: u64) {
    for o in first..first + orders {
        for l in 1..=2 {
            writeln!(
                out,
                "{o},2026-11-20,USD,UPS Ground,First{o},Last{o},,{o} Main St,,Springfield,IL,{:05},US,c{o}@example.com,,,{l},SKU-{l},{},9.99,Item {l}",
                o % 100_000,
                1 + (o + l) % 7
            )
            .unwrap();
        }
    }
}

/// `cartferry run` on the sandbox `dir`, logging warnings only, to nowhere.
fn run(dir: &Path) -> std::process::Child {
    Command::new(BIN)
        .arg("--config")
        .arg(dir.join("cartferry.toml"))
        .arg("run")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Makes `dir` a sandbox: folders `src` and `dst`, and one route between them.
fn sandbox(dir: PathBuf, stable_for: &str, route: &str, workers: usize) -> PathBuf {
    for d in ["src", "dst"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let (reader, writer) = match route {
        "passthrough" => ("passthrough", "passthrough"),
        _ => ("canonical-orders-csv", "canonical-orders-csv"),
    };
    fs::write(
        dir.join("cartferry.toml"),
        format!(
            r#"
[agent]
state_dir = "var/state"
poll_interval = "30s"
stable_for = "{stable_for}"
[endpoints.here]
kind = "local"
root = "."
[[routes]]
name = "bench"
from = {{ endpoint = "here", dir = "src", pattern = "*" }}
reader = "{reader}"
writer = "{writer}"
to = {{ endpoint = "here", dir = "dst" }}
workers = {workers}
"#
        ),
    )
    .unwrap();
    dir
}

/// The fastest any design on the `csv` crate can be: byte records read and written back, nothing
/// else. Runs in this process; returns its wall time.
fn csv_crate_floor(input: &std::path::Path, output: &std::path::Path) -> Duration {
    let start = Instant::now();
    let file = std::io::BufReader::with_capacity(1 << 18, fs::File::open(input).unwrap());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(file);
    let out = BufWriter::with_capacity(1 << 18, fs::File::create(output).unwrap());
    let mut writer = csv::Writer::from_writer(out);
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).unwrap() {
        writer.write_byte_record(&record).unwrap();
    }
    writer.flush().unwrap();
    start.elapsed()
}

/// `cartferry once` on a bench sandbox, quiet.
fn once(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(dir.join("cartferry.toml"))
        .arg("once")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    cmd
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn latency() {
    const FILES: usize = 1000;
    let dir = sandbox(support::scratch("latency"), "10ms", "passthrough", 1);
    let mut agent = run(&dir);
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
        if let Ok(e) = e
            && matches!(
                e.kind,
                EventKind::Create(_) | EventKind::Modify(notify::event::ModifyKind::Name(_))
            )
        {
            for p in e.paths {
                let _ = tx.send((Instant::now(), p));
            }
        }
    })
    .unwrap();
    watcher
        .watch(&dir.join("dst"), RecursiveMode::NonRecursive)
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut samples = Vec::with_capacity(FILES);
    for i in 0..FILES {
        let name = format!("f{i:04}.csv");
        let tmp = dir.join(format!("src/.{name}.tmp"));
        fs::write(&tmp, format!("{HEADER}{i},x\n")).unwrap();
        fs::rename(&tmp, dir.join("src").join(&name)).unwrap();
        let closed = Instant::now();
        loop {
            let (at, path) = rx
                .recv_timeout(Duration::from_secs(10))
                .expect("delivery within 10 s");
            if path.file_name().is_some_and(|n| n == name.as_str()) {
                samples.push(at - closed);
                break;
            }
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status();
    let _ = agent.wait();
    samples.sort();
    println!(
        "| pickup latency, closed → delivered, {FILES} files one at a time (stable_for = 10ms) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms |",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3
    );
    let _ = fs::remove_dir_all(&dir);
}

fn throughput() {
    const FILES: u64 = 10_000;
    for (route, workers) in [
        ("canonical-orders-csv", 1),
        ("canonical-orders-csv", 8),
        ("passthrough", 8),
    ] {
        let dir = sandbox(support::scratch("throughput"), "0s", route, workers);
        for i in 0..FILES {
            let mut f =
                BufWriter::new(fs::File::create(dir.join(format!("src/o{i:05}.csv"))).unwrap());
            f.write_all(HEADER.as_bytes()).unwrap();
            order_rows(&mut f, i * 10, 2);
        }
        let (peer, _) = measured(
            Command::new("cp")
                .arg("-r")
                .arg(dir.join("src"))
                .arg(dir.join("peer")),
        );
        let _ = fs::remove_dir_all(dir.join("peer"));
        let (took, rss) = measured(&mut once(&dir));
        let delivered = fs::read_dir(dir.join("dst")).unwrap().count() as u64;
        assert_eq!(delivered, FILES, "every file delivered");
        println!(
            "| {FILES} small order files through `once`, route {route}, workers = {workers} | {:.2} s | {:.0} files/s | peak RSS {:.1} MiB | peer `cp -r` of the same files: {:.2} s, {:.0} files/s |",
            took.as_secs_f64(),
            FILES as f64 / took.as_secs_f64(),
            rss as f64 / 1024.0,
            peer.as_secs_f64(),
            FILES as f64 / peer.as_secs_f64()
        );
        let _ = fs::remove_dir_all(&dir);
    }
}

/// What one drain of the observability bench took.
struct Drained {
    /// From the agent's start until every file was out.
    wall: Duration,
    /// The agent's CPU time, user and system, all threads.
    cpu: Duration,
    /// Bytes the agent caused to be written to storage (`write_bytes` in `/proc/PID/io`).
    stored: u64,
    /// The agent's write system calls (`syscw`).
    writes: u64,
}

/// The two counters of `/proc/PID/io` that say how much a process wrote.
fn writes_of(pid: u32) -> (u64, u64) {
    let io = fs::read_to_string(format!("/proc/{pid}/io")).unwrap();
    let field = |name: &str| {
        io.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")?.parse().ok())
            .unwrap()
    };
    (field("write_bytes"), field("syscw"))
}

/// `run` on 10,000 small order files (1 % of them bad) below `base`, with metrics served and
/// scraped every second and an alert channel when `on`, until every file is out.
fn drain(base: &Path, on: bool) -> Drained {
    const FILES: u64 = 10_000;
    const BAD_EVERY: u64 = 100;
    let dir = sandbox(
        support::scratch_below(base, "observability"),
        "0s",
        "canonical-orders-csv",
        1,
    );
    // A bad order sends its whole file to the error folder.
    let config = fs::read_to_string(dir.join("cartferry.toml"))
        .unwrap()
        .replace("workers = 1", "workers = 1\non_invalid = \"reject-file\"");
    fs::write(dir.join("cartferry.toml"), config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    if on {
        let config = fs::read_to_string(dir.join("cartferry.toml")).unwrap();
        let config = config.replace(
            "[agent]",
            &format!("[agent]\nmetrics = \"127.0.0.1:{port}\""),
        ) + "\n[alerts.ops]\nkind = \"command\"\ncommand = [\"sh\", \"-c\", \"cat > /dev/null\"]\n";
        fs::write(dir.join("cartferry.toml"), config).unwrap();
    }
    let bad = FILES / BAD_EVERY;
    for i in 0..FILES {
        let mut rows = Vec::new();
        rows.extend_from_slice(HEADER.as_bytes());
        order_rows(&mut rows, i * 10, 2);
        let mut text = String::from_utf8(rows).unwrap();
        if i % BAD_EVERY == 0 {
            text = text.replacen(",9.99,", ",nine,", 1);
        }
        fs::write(dir.join(format!("src/o{i:05}.csv")), text).unwrap();
    }
    // The files just written reach the disk now, not during whichever run comes next.
    support::sync_disks();
    let start = Instant::now();
    let agent = run(&dir);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = on.then(|| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let url = format!("http://127.0.0.1:{port}/metrics");
            let mut scrapes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if ureq::get(&url).call().is_ok() {
                    scrapes += 1;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            scrapes
        })
    });
    let errors = dir.join("var/state/errors/bench");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        // Not counting a delivery's temporary file (`.<name>.<attempt>.part`).
        let delivered = fs::read_dir(dir.join("dst"))
            .unwrap()
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .count() as u64;
        // A bad file and its report.
        let failed = fs::read_dir(&errors).map_or(0, |d| d.count() as u64) / 2;
        if delivered + failed == FILES {
            break;
        }
        assert!(
            Instant::now() < deadline && delivered + failed <= FILES,
            "not drained in 10 minutes, or more files came out than went in ({delivered} delivered, {failed} failed)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let wall = start.elapsed();
    let (stored, writes) = writes_of(agent.id());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(scraper) = scraper {
        assert!(scraper.join().unwrap() > 0, "metrics were never scraped");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status();
    let cpu = support::cpu_of(agent);
    assert_eq!(
        fs::read_dir(&errors).unwrap().count() as u64,
        2 * bad,
        "every bad file in the error folder, with its report"
    );
    let _ = fs::remove_dir_all(&dir);
    Drained {
        wall,
        cpu,
        stored,
        writes,
    }
}

/// Issue 18: 10,000 small order files through `run` with metrics scraped every second and an
/// alert channel, against the same without. The sides alternate in pairs whose order swaps
/// (off-on, on-off, …), so that neither always runs after the other's clean-up. On the disk
/// (`BENCH_DIR`), and in memory (`/dev/shm`) where no disk flush blurs the agent's own work.
fn observability() {
    const PAIRS: usize = 6;
    const FILES: f64 = 10_000.0;
    let mut places = vec![(
        "disk",
        std::env::var_os("BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from),
    )];
    if Path::new("/dev/shm").is_dir() {
        places.push(("memory (/dev/shm)", PathBuf::from("/dev/shm")));
    }
    for (place, base) in places {
        let (mut off, mut on) = (Vec::new(), Vec::new());
        for pair in 0..PAIRS {
            let sides = if pair % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for side in sides {
                let drained = drain(&base, side);
                if side { &mut on } else { &mut off }.push(drained);
            }
        }
        let walls = |r: &[Drained]| {
            r.iter()
                .map(|d| format!("{:.1}", d.wall.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!(
            "{place}, wall times in run order: off {} s; on {} s",
            walls(&off),
            walls(&on)
        );
        let median = |r: &[Drained], of: fn(&Drained) -> Duration| {
            support::median(&mut r.iter().map(of).collect::<Vec<_>>())
        };
        let (off_wall, on_wall) = (median(&off, |d| d.wall), median(&on, |d| d.wall));
        let (off_cpu, on_cpu) = (median(&off, |d| d.cpu), median(&on, |d| d.cpu));
        let written = |r: &[Drained]| {
            let mut stored: Vec<u64> = r.iter().map(|d| d.stored).collect();
            let mut writes: Vec<u64> = r.iter().map(|d| d.writes).collect();
            stored.sort_unstable();
            writes.sort_unstable();
            (stored[stored.len() / 2], writes[writes.len() / 2])
        };
        let ((off_stored, off_writes), (on_stored, on_writes)) = (written(&off), written(&on));
        let change = |on: f64, off: f64| (on / off - 1.0) * 100.0;
        println!(
            "| {place} | on {:.2} s ({:.0} files/s), CPU {:.2} s | off {:.2} s ({:.0} files/s), CPU {:.2} s | wall {:+.1} % | CPU {:+.1} % | written to storage: on {:.0} MB, off {:.0} MB; write calls: on {on_writes}, off {off_writes} |",
            on_wall.as_secs_f64(),
            FILES / on_wall.as_secs_f64(),
            on_cpu.as_secs_f64(),
            off_wall.as_secs_f64(),
            FILES / off_wall.as_secs_f64(),
            off_cpu.as_secs_f64(),
            change(on_wall.as_secs_f64(), off_wall.as_secs_f64()),
            change(on_cpu.as_secs_f64(), off_cpu.as_secs_f64()),
            on_stored as f64 / 1e6,
            off_stored as f64 / 1e6,
        );
    }
}

fn bigfile() {
    let size_target: u64 = std::env::var("BIG_MIB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
        << 20;
    let dir = sandbox(support::scratch("bigfile"), "0s", "canonical-orders-csv", 1);
    let input = dir.join("big.csv");
    {
        let mut f = BufWriter::with_capacity(1 << 20, fs::File::create(&input).unwrap());
        f.write_all(HEADER.as_bytes()).unwrap();
        let mut next = 1;
        while f.get_ref().metadata().unwrap().len() < size_target {
            order_rows(&mut f, next, 10_000);
            next += 10_000;
        }
    }
    let bytes = fs::metadata(&input).unwrap().len();
    let mib = bytes as f64 / (1 << 20) as f64;
    let mbps = |d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    // Warm the page cache equally for all three, in a child process: a child's peak RSS counts
    // from its fork, so this process must stay small.
    measured(Command::new("cat").arg(&input).stdout(Stdio::null()));

    let median = |runs: &mut Vec<(Duration, u64)>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let (mut cp_runs, mut cp_sync_runs) = (Vec::new(), Vec::new());
    let (mut conv_runs, mut route_runs, mut floor_runs) = (Vec::new(), Vec::new(), Vec::new());
    let copy = dir.join("copy.csv");
    for _ in 0..RUNS {
        cp_runs.push(measured(Command::new("cp").arg(&input).arg(&copy)));
        let _ = fs::remove_file(&copy);
        // The route flushes its delivery to disk; its peer is a copy flushed to disk too.
        cp_sync_runs.push(measured(
            Command::new("sh")
                .arg("-c")
                .arg(r#"cp "$1" "$2" && sync "$2""#)
                .arg("sh")
                .arg(&input)
                .arg(&copy),
        ));
        let _ = fs::remove_file(&copy);
        let out = fs::File::create(dir.join("converted.csv")).unwrap();
        conv_runs.push(measured(
            Command::new(BIN)
                .args([
                    "convert",
                    "--reader",
                    "canonical-orders-csv",
                    "--writer",
                    "canonical-orders-csv",
                ])
                .arg(&input)
                .stdout(out),
        ));
        let _ = fs::remove_file(dir.join("converted.csv"));
        floor_runs.push((csv_crate_floor(&input, &dir.join("floor.csv")), 0));
        let _ = fs::remove_file(dir.join("floor.csv"));
        // The route takes the file from src/, delivers to dst/ and archives it; put it back after.
        let _ = fs::remove_dir_all(dir.join("var"));
        fs::rename(&input, dir.join("src/big.csv")).unwrap();
        route_runs.push(measured(&mut once(&dir)));
        assert!(
            dir.join("dst/big.csv").exists(),
            "the route delivered the batch"
        );
        fs::remove_file(dir.join("dst/big.csv")).unwrap();
        let archived = find_file(&dir.join("var"), "big.csv").expect("archived source");
        fs::rename(archived, &input).unwrap();
    }
    let spread = |runs: &[(Duration, u64)]| {
        let secs: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.2}", r.0.as_secs_f64()))
            .collect();
        secs.join(" / ")
    };
    let spreads = [
        spread(&cp_runs),
        spread(&cp_sync_runs),
        spread(&conv_runs),
        spread(&route_runs),
        spread(&floor_runs),
    ];
    let floor = median(&mut floor_runs);
    let (cp, cp_sync) = (median(&mut cp_runs), median(&mut cp_sync_runs));
    let (conv, route) = (median(&mut conv_runs), median(&mut route_runs));
    println!(
        "| {mib:.0} MiB canonical-orders-csv, median of {RUNS} | time (each run) | MB/s | peak RSS | ratio to its peer |"
    );
    let rows = [
        ("`cp` (peer of convert)", cp, cp, &spreads[0]),
        (
            "`cp` + `sync` of the copy (peer of the route)",
            cp_sync,
            cp_sync,
            &spreads[1],
        ),
        ("`cartferry convert` to a file", conv, cp, &spreads[2]),
        (
            "route via `cartferry once` (delivery flushed)",
            route,
            cp_sync,
            &spreads[3],
        ),
        (
            "floor: the `csv` crate alone copying records (no model, no checks; RSS not measured)",
            floor,
            cp,
            &spreads[4],
        ),
    ];
    for (label, (d, rss), (peer, _), each) in rows {
        println!(
            "| {label} | {:.2} s ({each}) | {:.0} | {:.1} MiB | {:.2} |",
            d.as_secs_f64(),
            mbps(d),
            rss as f64 / 1024.0,
            peer.as_secs_f64() / d.as_secs_f64()
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Repetitions of each large-file measurement; the median is reported.
const RUNS: usize = 3;

/// The first file called `name` below `dir`.
fn find_file(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    for entry in fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        } else if entry.file_name() == name {
            return Some(path);
        }
    }
    None
}

fn main() {
    if support::wanted("latency") {
        latency();
    }
    if support::wanted("throughput") {
        throughput();
    }
    if support::wanted("bigfile") {
        bigfile();
    }
    if support::wanted("observability") {
        observability();
    }
}
