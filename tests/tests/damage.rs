//! X Damage on the root window reports drawing by ordinary client windows too, so an idle
//! screen is never copied and a change anywhere is.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deskbeam_agent::capture::DamageWatcher;
use deskbeam_tests::xvfb::Xvfb;
use deskbeam_tests::{init_tracing, require_tools};

fn damaged_within(w: &mut DamageWatcher, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if w.take() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn damage_reports_root_and_window_drawing_and_stays_quiet_otherwise() {
    init_tracing();
    if !require_tools("X damage", &["Xvfb", "xsetroot", "xdpyinfo", "xterm"]) {
        return;
    }
    let x = Xvfb::start(290, 640, 480).expect("Xvfb");
    // This test binary holds only this test, so setting DISPLAY cannot race another test.
    std::env::set_var("DISPLAY", &x.display);
    let mut w = DamageWatcher::open().expect("DAMAGE extension");
    let _ = damaged_within(&mut w, Duration::from_millis(200));
    assert!(!damaged_within(&mut w, Duration::from_millis(300)), "a still screen reports nothing");

    x.set_root_color([1, 2, 3]).expect("paint");
    assert!(damaged_within(&mut w, Duration::from_secs(3)), "painting the root is seen");
    assert!(!damaged_within(&mut w, Duration::from_millis(300)), "and re-armed");

    // wait() sleeps through a still screen, wakes when something is drawn, and leaves the
    // change for take().
    let started = Instant::now();
    assert!(!w.wait(started + Duration::from_millis(300)), "nothing drawn: it times out");
    assert!(started.elapsed() >= Duration::from_millis(290), "it waited");
    let display = x.display.clone();
    let painter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        Command::new("xsetroot").env("DISPLAY", display).args(["-solid", "#405060"]).status()
    });
    let started = Instant::now();
    assert!(w.wait(started + Duration::from_secs(10)), "a change wakes it");
    eprintln!("woke {:?} after the wait began (the paint came at 200 ms)", started.elapsed());
    assert!(w.take(), "the change is still there to take");
    let _ = painter.join();

    let mut term = Command::new("xterm")
        .env("DISPLAY", &x.display)
        .args(["-geometry", "40x10+10+10", "-e", "bash", "-c", "sleep 1; for i in 1 2 3 4 5 6 7 8 9 10; do echo line $i; sleep 0.2; done; sleep 5"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("xterm");
    std::thread::sleep(Duration::from_millis(1200));
    let _ = w.take();
    assert!(damaged_within(&mut w, Duration::from_secs(3)), "text drawn in a client window is seen");
    let _ = term.kill();
    let _ = term.wait();
}
