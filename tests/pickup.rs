//! Safe pickup: a file is taken only once complete, and never appears half-written at the
//! destination under its final name.

mod support;

use std::fs;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

#[test]
fn growing_file_is_not_taken_until_its_writer_finishes() {
    // stable_for well above the writer's pauses, so a busy machine cannot make a pause look final.
    let sandbox = Sandbox::with_routes(&PASSTHROUGH_ROUTE.replace(
        "pattern = \"*\" }",
        "pattern = \"*\", stable_for = \"600ms\" }",
    ));
    let agent = sandbox.start();
    let path = sandbox.path("cart/out/slow.dat");
    let mut file = fs::File::create(&path).unwrap();
    let mut expected = Vec::new();
    // Eight pieces, 150 ms apart: each pause is much shorter than stable_for (600 ms).
    for piece in 0..8u8 {
        let chunk = vec![b'a' + piece; 10_000];
        file.write_all(&chunk).unwrap();
        file.flush().unwrap();
        expected.extend_from_slice(&chunk);
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            sandbox.files("warehouse/in").is_empty(),
            "delivered while still being written (after piece {piece})"
        );
        assert!(
            path.exists(),
            "claimed while still being written (after piece {piece})"
        );
    }
    drop(file);
    assert!(
        wait_until(Duration::from_secs(10), || sandbox.files("warehouse/in")
            == ["slow.dat"]),
        "not delivered after the writer finished; log:\n{}",
        agent.log_text()
    );
    assert_eq!(
        fs::read(sandbox.path("warehouse/in/slow.dat")).unwrap(),
        expected
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn done_marker_route_waits_for_its_marker() {
    let sandbox = Sandbox::with_routes(
        r#"
[[routes]]
name = "marked"
from = { endpoint = "cart", dir = "out", pattern = "*.csv", done_marker = "{name}.done" }
reader = "passthrough"
writer = "passthrough"
to = { endpoint = "warehouse", dir = "in" }
"#,
    );
    let agent = sandbox.start();
    fs::write(sandbox.path("cart/out/batch.csv"), b"complete data\n").unwrap();
    // Well past stable_for and two rescans: a marker route must still wait.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        sandbox.files("warehouse/in").is_empty(),
        "taken without its marker"
    );
    assert!(sandbox.path("cart/out/batch.csv").exists());
    fs::write(sandbox.path("cart/out/batch.csv.done"), b"").unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || sandbox.files("warehouse/in")
            == ["batch.csv"]),
        "not delivered after its marker appeared; log:\n{}",
        agent.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(5), || sandbox
            .files("cart/out")
            .is_empty()),
        "marker should be consumed with its file: {:?}",
        sandbox.files("cart/out")
    );
    assert_eq!(agent.stop(), 0);
}

#[test]
fn no_partial_file_is_ever_visible_under_its_final_name() {
    const SIZE: usize = 8 * 1024 * 1024;
    const FILES: usize = 12;
    let sandbox = Sandbox::with_routes(PASSTHROUGH_ROUTE);
    let agent = sandbox.start();
    let dest = sandbox.path("warehouse/in");
    let stop = Arc::new(AtomicBool::new(false));
    let bad = Arc::new(Mutex::new(Vec::new()));
    let looks = Arc::new(Mutex::new(0u64));
    let watcher = {
        let (stop, bad, looks, dest) = (stop.clone(), bad.clone(), looks.clone(), dest.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for name in list_files(&dest) {
                    if let Ok(meta) = fs::metadata(dest.join(&name)) {
                        *looks.lock().unwrap() += 1;
                        if meta.len() as usize != SIZE {
                            bad.lock()
                                .unwrap()
                                .push(format!("{name}: {} bytes", meta.len()));
                        }
                    }
                }
            }
        })
    };
    for i in 0..FILES {
        sandbox.drop_file("cart/out", &format!("big-{i:02}.bin"), &vec![i as u8; SIZE]);
    }
    let all_there = wait_until(Duration::from_secs(60), || list_files(&dest).len() == FILES);
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    assert!(all_there, "not all delivered; log:\n{}", agent.log_text());
    assert!(
        bad.lock().unwrap().is_empty(),
        "partial files seen: {:?}",
        bad.lock().unwrap()
    );
    assert!(*looks.lock().unwrap() > 0, "the watcher never saw a file");
    for i in 0..FILES {
        let data = fs::read(dest.join(format!("big-{i:02}.bin"))).unwrap();
        assert!(data.len() == SIZE && data.iter().all(|b| *b == i as u8));
    }
    assert_eq!(agent.stop(), 0);
}

/// The entries of an inbox the route's pattern names but that it cannot take: a Latin-1 name,
/// a link, a folder and a pipe.
fn unfit_entries(sandbox: &Sandbox) {
    use std::os::unix::ffi::OsStrExt;
    let inbox = sandbox.path("cart/out");
    fs::write(
        inbox.join(std::ffi::OsStr::from_bytes(b"caf\xe9.dat")),
        b"x\n",
    )
    .unwrap();
    fs::write(sandbox.path("elsewhere.dat"), b"secret\n").unwrap();
    std::os::unix::fs::symlink(sandbox.path("elsewhere.dat"), inbox.join("link.dat")).unwrap();
    fs::create_dir(inbox.join("folder.dat")).unwrap();
    let pipe = std::ffi::CString::new(inbox.join("pipe.dat").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(pipe.as_ptr(), 0o600) }, 0);
}

/// What cartferry says of each entry of `unfit_entries`: its name, and the reason's start.
const UNFIT: [(&str, &str); 4] = [
    ("caf\u{FFFD}.dat", "its name is not valid UTF-8"),
    ("link.dat", "it is a symbolic link"),
    ("folder.dat", "it is a folder"),
    ("pipe.dat", "it is not a plain file"),
];

#[test]
fn entries_the_route_cannot_take_are_said_in_the_log_once_and_in_status() {
    let sandbox = Sandbox::with_routes(&PASSTHROUGH_ROUTE.replace("\"*\"", "\"*.dat\""));
    unfit_entries(&sandbox);
    let mut agent = sandbox.start();
    sandbox.drop_file("cart/out", "good.dat", b"good\n");
    assert!(wait_until(Duration::from_secs(20), || sandbox
        .files("warehouse/in")
        == ["good.dat"]));
    // A second pass (another file) lists the same entries again; they are not said again.
    sandbox.drop_file("cart/out", "second.dat", b"second\n");
    assert!(wait_until(Duration::from_secs(20), || sandbox
        .files("warehouse/in")
        .len()
        == 2));
    assert!(agent.is_running());
    let log = agent.log_text();
    for (name, why) in UNFIT {
        let said: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("WARN") && l.contains(&format!("file=\"{name}\"")))
            .collect();
        assert_eq!(said.len(), 1, "{name} said once:\n{log}");
        assert!(said[0].contains(why), "{name}: {}", said[0]);
    }
    agent.stop();

    let status = sandbox.cmd(&["status"]);
    let shown = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{shown}");
    for (name, why) in UNFIT {
        assert!(
            shown.contains(&format!("files: {name}: {why}")),
            "status shows {name}:\n{shown}"
        );
    }
    assert_eq!(
        fs::read(sandbox.path("elsewhere.dat")).unwrap(),
        b"secret\n",
        "the link's target is untouched"
    );
}
