//! Part 1, launch → tray: from spawning `signet` to its StatusNotifierItem on the session bus (with a
//! StatusNotifierWatcher, without one, and with GDK's GL probe), and to its agent socket.

use std::time::{Duration, Instant, SystemTime};

use signet_tests::bench::{Stats, ms};

use super::bus::{AppNames, Bus, WatcherHost};
use super::desktop::{Desktop, file_len, first_log_line_after};
use super::{Bench, LAUNCH_POLL, Row};

impl Bench {
    pub fn launch(&mut self, desktop: &Desktop) {
        let runs = self.opts.launch_runs;
        eprintln!(
            "signet-tray-bench: launch → tray, {runs} runs each with a StatusNotifierWatcher, without one, \
             and with one and `GDK_GL=` (empty: GDK probes GL), interleaved"
        );
        let bus = Bus::connect(&desktop.bus);
        let mut watcher = WatcherHost::new(&desktop.bus);
        // Unmeasured: the first start pays for the page cache and the services the bus activates.
        let warm = self.launch_once(desktop, &bus, &mut watcher, true, &[]);
        eprintln!(
            "  warm-up: exported after {}",
            ms(warm.exported.unwrap_or_default())
        );
        let mut with = Vec::new();
        let mut without = Vec::new();
        let mut probed = Vec::new();
        // An empty `GDK_GL` is left alone by the app (a value the person set), and GDK then probes GL as
        // it did before the app set `GDK_GL=disable` itself (main.rs `skip_gl_probe`): the cost of the
        // probe, in the same run. For a former build, the same as leaving it unset.
        let gl_probe: &[(&str, &str)] = &[("GDK_GL", "")];
        for round in 0..runs {
            // Rotate which configuration goes first in a round, so none always follows another.
            let mut order = [(true, false), (false, false), (true, true)];
            order.rotate_left(round % 3);
            for (watched, gl_probed) in order {
                let env = if gl_probed { gl_probe } else { &[] };
                let sample = self.launch_once(desktop, &bus, &mut watcher, watched, env);
                eprintln!(
                    "  run {:>2} {:<10} exported {:>9}  registered {:>9}  socket {:>9}  first log line {:>9}",
                    round + 1,
                    match (watched, gl_probed) {
                        (true, false) => "watcher",
                        (false, _) => "no watcher",
                        (true, true) => "GL probe",
                    },
                    sample.exported.map(ms).unwrap_or_else(|| "—".into()),
                    sample.registered.map(ms).unwrap_or_else(|| "—".into()),
                    sample.socket.map(ms).unwrap_or_else(|| "—".into()),
                    sample.first_log.map(ms).unwrap_or_else(|| "—".into()),
                );
                match (watched, gl_probed) {
                    (true, false) => with.push(sample),
                    (false, _) => without.push(sample),
                    (true, true) => probed.push(sample),
                }
            }
        }
        drop(watcher);

        // DESIGN §8: launch → tray item p90 ≤ 350 ms.
        let budget = Duration::from_millis(350);
        let exported = |samples: &[LaunchSample]| {
            Stats::of(samples.iter().filter_map(|s| s.exported).collect())
        };
        let with_exported = exported(&with);
        self.rows.push(Row::duration(
            "Launch → StatusNotifierItem exported on the session bus, StatusNotifierWatcher present (desktop panel)",
            &with_exported,
            "p90 ≤ 350 ms",
            Some(with_exported.p90 <= budget),
        ));
        let probed_exported = exported(&probed);
        self.rows.push(Row::duration(
            "Launch → StatusNotifierItem exported, watcher present, GDK's GL probe on (`GDK_GL=` empty; the app sets `GDK_GL=disable` only when unset)",
            &probed_exported,
            "—",
            None,
        ));
        let registered = Stats::of(with.iter().filter_map(|s| s.registered).collect());
        if registered.runs > 0 {
            self.rows.push(Row::duration(
                "Launch → `RegisterStatusNotifierItem` received by the watcher",
                &registered,
                "—",
                None,
            ));
        }
        let without_exported = exported(&without);
        self.rows.push(Row::duration(
            "Launch → StatusNotifierItem exported, no watcher on the bus (as in the tests)",
            &without_exported,
            "p90 ≤ 350 ms",
            Some(without_exported.p90 <= budget),
        ));
        let all: Vec<&LaunchSample> = with.iter().chain(&without).collect();
        let socket = Stats::of(all.iter().filter_map(|s| s.socket).collect());
        self.rows.push(Row::duration(
            "Launch → agent socket (`$XDG_RUNTIME_DIR/signet/agent.sock`) exists (both kinds of run)",
            &socket,
            "—",
            None,
        ));
        let first_log = Stats::of(all.iter().filter_map(|s| s.first_log).collect());
        let after_log = Stats::of(
            all.iter()
                .filter_map(|s| Some(s.exported?.saturating_sub(s.first_log?)))
                .collect(),
        );
        if first_log.runs > 0 {
            self.notes.push(format!(
                "Launch: the app's first log line (`tray icon created`, in Tauri's setup hook, once the \
                 process is loaded, GTK is up on the display and the plugins are registered) came {} \
                 (p10–p90 {}–{}) after the spawn; the item was on the bus {} after that line.",
                ms(first_log.median),
                ms(first_log.p10),
                ms(first_log.p90),
                ms(after_log.median),
            ));
        }
    }

    fn launch_once(
        &self,
        desktop: &Desktop,
        bus: &Bus,
        watcher: &mut WatcherHost,
        watched: bool,
        env: &[(&str, &str)],
    ) -> LaunchSample {
        let socket = desktop.root.join("runtime/signet/agent.sock");
        // A socket left by the last (terminated) instance would count as this one's.
        let _ = std::fs::remove_file(&socket);
        watcher.set(watched, bus);
        let log_offset = file_len(&desktop.app_log());
        let spawned_at = SystemTime::now();
        let started = Instant::now();
        let mut app = desktop.spawn_app_with(&self.app, env);
        let pid = app.pid();
        let mut names = AppNames::new(pid);
        let mut sample = LaunchSample::default();
        let deadline = started + Duration::from_secs(30);
        while sample.exported.is_none() || sample.socket.is_none() {
            if sample.exported.is_none() && names.item_exported(bus) {
                sample.exported = Some(started.elapsed());
            }
            if sample.socket.is_none() && socket.exists() {
                sample.socket = Some(started.elapsed());
            }
            if let Some(status) = app.try_wait() {
                panic!(
                    "signet exited during launch ({status}); app log:\n{}",
                    desktop.app_log_text()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "no tray item or agent socket 30 s after launch; app log:\n{}",
                    desktop.app_log_text()
                );
            }
            std::thread::sleep(LAUNCH_POLL);
        }
        if watched {
            // The registration follows the export; give it a moment.
            let until = Instant::now() + Duration::from_secs(2);
            while sample.registered.is_none() && Instant::now() < until {
                sample.registered = watcher.registered_since(started);
                std::thread::sleep(LAUNCH_POLL);
            }
        }
        sample.first_log = first_log_line_after(&desktop.app_log(), log_offset, spawned_at);
        app.terminate();
        // The next instance must not find this one's single-instance name still on the bus.
        names.wait_gone(bus);
        sample
    }
}

#[derive(Debug, Default)]
struct LaunchSample {
    exported: Option<Duration>,
    registered: Option<Duration>,
    socket: Option<Duration>,
    /// From the spawn to the app's first log line (wall clock; ~µs resolution).
    first_log: Option<Duration>,
}
