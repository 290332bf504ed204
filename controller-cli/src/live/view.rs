//! Drawing one snapshot: a title line, the tasks, the engines (busiest first), the most recent
//! failures and a key line. Pure drawing on whatever backend the frame has, so tests draw on
//! ratatui's test backend at any size.
//!
//! Small terminals lose parts in order of least use, never characters: the failures go first
//! (below 16 lines), then the engine id column (below 64 columns); ratatui clips whatever is
//! still too long to its cell, so nothing wraps or spills into a neighbour.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, LineGauge, Padding, Paragraph, Row, Table};

use super::snapshot::{Snapshot, format_duration};

/// Fewer lines than this and the failures are left out.
const FAILURES_FROM_HEIGHT: u16 = 16;
/// Narrower than this and the engine id column is left out.
const ENGINE_ID_FROM_WIDTH: u16 = 64;
/// Most failure rows shown.
const FAILURE_ROWS: usize = 5;
/// An engine not heard from for this long is shown as late.
const LATE: Duration = Duration::from_secs(10);

/// What the screen shows: the latest snapshot, when it came, and why the next one has not.
pub struct View {
    pub snapshot: Snapshot,
    pub received: Instant,
    pub error: Option<String>,
    pub interval: Duration,
    /// Plain text only (`NO_COLOR`): emphasis by bold and reverse, no colours.
    pub plain: bool,
}

impl View {
    fn color(&self, c: Color) -> Style {
        if self.plain {
            Style::new()
        } else {
            Style::new().fg(c)
        }
    }
}

pub fn draw(frame: &mut Frame, view: &View, now: Instant) {
    let area = frame.area();
    let failures = &view.snapshot.reply.failures;
    let failure_height = if area.height >= FAILURES_FROM_HEIGHT {
        failures.len().clamp(1, FAILURE_ROWS) as u16 + 3
    } else {
        0
    };
    let [title, tasks, engines, failed, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(4),
        Constraint::Min(3),
        Constraint::Length(failure_height),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_title(frame, view, now, title);
    draw_tasks(frame, view, tasks);
    draw_engines(frame, view, engines);
    if failure_height > 0 {
        draw_failures(frame, view, failed);
    }
    draw_keys(frame, view, keys);
}

fn draw_title(frame: &mut Frame, view: &View, now: Instant, area: Rect) {
    let s = &view.snapshot;
    let mut spans = vec![Span::from(" hs top ").bold().reversed()];
    if let Some(p) = &s.profile {
        spans.push(Span::from(format!(" profile {} ·", p.name)).bold());
    }
    let id = s.reply.controller_id.simple().to_string();
    spans.push(Span::from(format!(
        " controller {} at {} ",
        &id[..8],
        s.address
    )));
    match &view.error {
        Some(e) => spans.push(Span::styled(
            format!(
                "· not answering ({e}), as of {} ago",
                ago(now, view.received)
            ),
            view.color(Color::Red).add_modifier(Modifier::BOLD),
        )),
        None => spans.push(Span::from(format!("· {} ago", ago(now, view.received))).dim()),
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_tasks(frame: &mut Frame, view: &View, area: Rect) {
    let s = &view.snapshot;
    let r = &s.reply;
    let block = Block::bordered()
        .title(" Tasks ".bold())
        .padding(Padding::horizontal(1));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [counts, pace] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);
    let failed_style = if r.failed > 0 {
        view.color(Color::Red).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    };
    let counts_line = Line::from(vec![
        Span::from("waiting "),
        Span::from(s.waiting().to_string()).bold(),
        Span::from("   running "),
        Span::from(r.running.to_string()).bold(),
        Span::from("   done "),
        Span::from(s.done().to_string()).bold(),
        Span::from("   failed "),
        Span::styled(r.failed.to_string(), failed_style),
    ]);
    frame.render_widget(Paragraph::new(counts_line), counts);
    let rate = s
        .rate_per_minute()
        .map_or("-".to_string(), |x| format!("{x:.1}/min"));
    let eta = match s.eta() {
        Some(d) if d.is_zero() => "nothing left".to_string(),
        Some(d) => format_duration(d),
        None => "-".to_string(),
    };
    let text = format!("rate {rate} (last minute)   ETA {eta}  ");
    let [left, bar] = Layout::horizontal([
        Constraint::Length(text.chars().count() as u16),
        Constraint::Min(0),
    ])
    .areas(pace);
    frame.render_widget(Paragraph::new(text), left);
    let total = s.done() + s.waiting() + r.running;
    if total > 0 && bar.width >= 10 {
        let ratio = s.done() as f64 / total as f64;
        frame.render_widget(
            LineGauge::default()
                .ratio(ratio)
                .label(format!("{:>3.0}%", ratio * 100.0))
                .filled_style(view.color(Color::Green))
                .unfilled_style(Style::new().dim()),
            bar,
        );
    }
}

fn draw_engines(frame: &mut Frame, view: &View, area: Rect) {
    let r = &view.snapshot.reply;
    let total = r.engine_total();
    let mut title = format!(
        " Engines {total} · slots {} · busy {} ",
        r.slot_total(),
        r.busy_total()
    );
    if (r.engines.len() as u64) < total {
        title.push_str(&format!("· busiest {} listed ", r.engines.len()));
    }
    let block = Block::bordered().title(title.bold());
    if r.engines.is_empty() {
        let note = Paragraph::new(" no engine has registered yet".dim()).block(block);
        frame.render_widget(note, area);
        return;
    }
    let with_id = area.width >= ENGINE_ID_FROM_WIDTH;
    // Room for one column per resource (cores, GPUs) once engines report them.
    let mut header = vec!["HOST".to_string()];
    let mut widths = vec![Constraint::Min(8)];
    if with_id {
        header.push("ENGINE".into());
        widths.push(Constraint::Length(8));
    }
    header.extend([
        format!("{:>5}", "SLOTS"),
        format!("{:>5}", "BUSY"),
        format!("{:>8}", "DONE"),
        format!("{:>7}", "HEARD"),
    ]);
    widths.extend([
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(8),
        Constraint::Length(7),
    ]);
    let rows = r.engines.iter().map(|e| {
        let heard = Duration::from_millis(e.last_heard_ms);
        let heard_style = if heard >= LATE {
            view.color(Color::Yellow)
        } else {
            Style::new()
        };
        let mut cells = vec![Cell::from(e.host.clone())];
        if with_id {
            cells.push(Cell::from(
                e.engine_id.simple().to_string()[..8].to_string(),
            ));
        }
        cells.extend([
            Cell::from(format!("{:>5}", e.slots)),
            Cell::from(format!("{:>5}", e.busy)),
            Cell::from(format!("{:>8}", e.done)),
            Cell::from(format!("{:>7}", heard_text(heard))).style(heard_style),
        ]);
        Row::new(cells)
    });
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block);
    frame.render_widget(table, area);
}

fn draw_failures(frame: &mut Frame, view: &View, area: Rect) {
    let failures = &view.snapshot.reply.failures;
    let block = Block::bordered().title(" Recent failures ".bold());
    if failures.is_empty() {
        frame.render_widget(Paragraph::new(" none".dim()).block(block), area);
        return;
    }
    let rows = failures.iter().take(FAILURE_ROWS).map(|f| {
        let how = match f.signal {
            Some(sig) => format!("signal {sig}"),
            None => format!("exit {}", f.exit_status),
        };
        let host = if f.host.is_empty() {
            "(not run)".to_string()
        } else {
            f.host.clone()
        };
        Row::new(vec![
            Cell::from(format!(
                "{:>6}",
                format_duration(Duration::from_millis(f.ago_ms))
            )),
            Cell::from(how).style(view.color(Color::Red)),
            Cell::from(host),
            Cell::from(f.args.clone()),
        ])
    });
    let widths = [
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(12),
        Constraint::Min(10),
    ];
    let table = Table::new(rows, widths)
        .header(
            Row::new(vec!["   AGO", "STATUS", "HOST", "COMMAND"])
                .style(Style::new().add_modifier(Modifier::BOLD)),
        )
        .block(block);
    frame.render_widget(table, area);
}

fn draw_keys(frame: &mut Frame, view: &View, area: Rect) {
    let line = Line::from(vec![
        Span::from(" q ").reversed(),
        Span::from(" quit   "),
        Span::from(format!(
            "updates every {}",
            format_duration(view.interval.max(Duration::from_secs(1)))
        ))
        .dim(),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

/// Time since `then`, in tenths of a second while it is short.
fn ago(now: Instant, then: Instant) -> String {
    heard_text(now.saturating_duration_since(then))
}

fn heard_text(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format_duration(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_broker::client::{EngineStatus, FailureStatus, StatusReply, StatusTotals};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use uuid::Uuid;

    fn view(engines: usize, failures: usize) -> View {
        let rows: Vec<EngineStatus> = (0..engines.min(StatusReply::MAX_ENGINES))
            .map(|i| EngineStatus {
                engine_id: Uuid::new_v4(),
                host: format!("node{i:03}.cluster.example.org"),
                slots: 16,
                busy: 16,
                done: 1000 + i as u64,
                last_heard_ms: 300 + 1000 * i as u64,
            })
            .collect();
        let failed = failures as u64;
        let failures = (0..failures)
            .map(|i| FailureStatus {
                id: Uuid::new_v4(),
                args: format!(
                    "python train.py --fold {i} {}",
                    "--very-long-flag ".repeat(20)
                ),
                exit_status: 1,
                signal: (i == 1).then_some(9),
                host: if i == 2 {
                    String::new()
                } else {
                    "node001".into()
                },
                ago_ms: 12_000 * i as u64,
            })
            .collect();
        View {
            snapshot: Snapshot {
                reply: StatusReply {
                    controller_id: Uuid::new_v4(),
                    queued: 1200,
                    running: 800,
                    succeeded: 40_000,
                    failed,
                    engines: rows,
                    totals: Some(StatusTotals {
                        engines: engines as u64,
                        slots: 16 * engines as u64,
                        busy: 16 * engines as u64,
                        unscheduled: 3000,
                        finished_recently: 9000,
                        window_ms: 60_000,
                    }),
                    failures,
                },
                address: "10.0.0.1:50001".into(),
                profile: None,
            },
            received: Instant::now(),
            error: None,
            interval: Duration::from_secs(1),
            plain: false,
        }
    }

    /// The screen's lines as text, drawn at `width`×`height`.
    fn screen(v: &View, width: u16, height: u16) -> Vec<String> {
        let mut t = Terminal::new(TestBackend::new(width, height)).unwrap();
        t.draw(|f| draw(f, v, v.received)).unwrap();
        let buf = t.backend().buffer().clone();
        (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn an_80_by_24_screen_shows_every_part() {
        let lines = screen(&view(10_000, 7), 80, 24);
        let all = lines.join("\n");
        for part in [
            "hs top",
            "Tasks",
            "waiting 4200",
            "running 800",
            "rate 9000.0/min",
            "ETA 33s",
            "Engines 10000 · slots 160000 · busy 160000 · busiest 50 listed",
            "HOST",
            "HEARD",
            "Recent failures",
            "signal 9",
            "(not run)",
            "q  quit",
        ] {
            assert!(all.contains(part), "{part:?} missing from:\n{all}");
        }
        assert_eq!(lines.len(), 24);
    }

    #[test]
    fn small_screens_drop_parts_and_never_panic() {
        let v = view(3, 3);
        let short = screen(&v, 80, 12).join("\n");
        assert!(short.contains("Engines"), "{short}");
        assert!(!short.contains("Recent failures"), "{short}");
        let narrow = screen(&v, 40, 24).join("\n");
        assert!(!narrow.contains("ENGINE "), "{narrow}");
        for (w, h) in [(1, 1), (10, 3), (20, 5), (79, 9), (200, 60)] {
            screen(&v, w, h);
        }
    }

    #[test]
    fn a_controller_not_answering_is_said_on_the_title_line() {
        let mut v = view(0, 0);
        v.error = Some("no answer within 5s".into());
        let lines = screen(&v, 120, 24);
        assert!(
            lines[0].contains("not answering (no answer within 5s)"),
            "{}",
            lines[0]
        );
        assert!(lines.join("\n").contains("no engine has registered yet"));
        assert!(lines.join("\n").contains("none"));
    }
}
