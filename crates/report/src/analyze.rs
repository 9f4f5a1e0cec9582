//! Turning the lines of one report into a [`Report`]: title, frame,
//! type, alternative titles, corruption, guilty file.

use crate::formats::Format;
use crate::frames;
use crate::lines::Line;
use crate::title;
use crate::Report;
use regex::Captures;

/// Placeholder frame of reports whose frame could not be found.
pub const CORRUPTED: &str = "corrupted";

/// Builds the report for `lines` (`lines[0]` is the header line).
pub fn build(
    log: &[u8],
    lines: &[Line],
    fmt: &Format,
    caps: &Captures,
    panicked: bool,
    foreign_dump: bool,
) -> Report {
    let frames = frames::collect(lines, fmt, caps);
    let class = crate::classes::class_of(log, lines, fmt.title);
    let raw_frame = frames::title_frame(lines, fmt, caps, &frames, class);
    let mut frame = raw_frame.as_deref().map(|f| match fmt.frame {
        crate::formats::FrameRule::Hung | crate::formats::FrameRule::Stall => {
            crate::syscall::strip_wrappers(&crate::hang::canonical(f))
        }
        _ => crate::syscall::strip_wrappers(f),
    });
    let mut warn_reason = None;
    if fmt.title.starts_with("WARNING in") {
        // A WARNING is only named after its own stack.
        if !frames.iter().any(|f| !f.unreliable && !f.from_ip) {
            warn_reason = Some("WARNING without its stack".to_string());
        } else if let Some(r) = crate::corrupt::warning_stack_foreign(lines) {
            warn_reason = Some(r.to_string());
        }
        if warn_reason.is_none() && foreign_dump {
            warn_reason = Some("a fault-injection stack dump is interleaved".to_string());
        }
        if warn_reason.is_some() {
            frame = None;
        }
    } else if foreign_dump {
        warn_reason = Some("a fault-injection stack dump is interleaved".to_string());
        // Lockdep and hung-task stacks are printed line by line by one
        // task while the injector dumps its own: the frames mix.
        if matches!(
            fmt.frame,
            crate::formats::FrameRule::LockAt | crate::formats::FrameRule::Hung
        ) {
            frame = None;
        }
    }
    if fmt.frame == crate::formats::FrameRule::Stall
        && crate::corrupt::stall_headers_interleaved(lines)
    {
        warn_reason.get_or_insert_with(|| "two stall reports interleaved".to_string());
        frame = None;
    }
    let access = access_of(lines);
    let mut raw = String::new();
    caps.expand(fmt.title, &mut raw);
    if let Some(class) = class {
        raw = class.retitle(&raw);
    }
    let raw = raw
        .replace("{access}", access.unwrap_or(""))
        .replace("double-free or invalid-free", "invalid-free")
        .replace("KASAN: double-free", "KASAN: invalid-free");
    let mut corrupted_reason = warn_reason;
    let frame_text = match (&frame, fmt.title.contains("{frame}")) {
        (Some(f), true) => Some(f.clone()),
        (None, true) => {
            if corrupted_reason.is_none() {
                corrupted_reason = Some("no usable frame in the report".to_string());
            }
            Some(CORRUPTED.to_string())
        }
        _ => None,
    };
    let mut frame_text = frame_text;
    if corrupted_reason.is_none() {
        corrupted_reason = crate::corrupt::check(lines, fmt, &frames);
        if corrupted_reason.as_deref() == Some(crate::corrupt::DUMP_INSIDE_LOCKDEP) {
            // Another task's dump is printed between the lockdep lines:
            // the "at:" line may be either task's.
            frame_text = frame_text.map(|_| CORRUPTED.to_string());
        }
    }
    let mut raw = raw;
    if corrupted_reason.is_some() && fmt.frameless_if_corrupted {
        raw = raw.replace(" in {frame}", "");
        frame_text = None;
    }
    if frame.is_none()
        && !foreign_dump
        && matches!(fmt.frame, crate::formats::FrameRule::LockAt)
        && raw.starts_with("possible deadlock")
        && lines[0].text.trim_start().starts_with("WARNING:")
    {
        // Without any frame the lockdep banner itself is the best title.
        raw = lines[0].text.trim().to_string();
        frame_text = None;
    }
    let raw = raw.replace("{frame}", frame_text.as_deref().unwrap_or(""));
    let title = title::normalize(&raw);
    let kind = title::kind_of(&title);
    let mut alt_titles = alt_titles(&title, frame_text.as_deref());
    if let (Some(raw), Some(f)) = (&raw_frame, &frame_text) {
        if raw != f && frame.as_ref() == Some(f) && title.ends_with(f.as_str()) {
            // The canonical frame hides the real one; keep it findable.
            let with_raw = title::normalize(&format!(
                "{}{raw}",
                title.strip_suffix(f.as_str()).unwrap_or(&title)
            ));
            alt_titles.extend(alt_titles_for(&with_raw, raw));
            alt_titles.push(with_raw);
        }
    }
    alt_titles.extend(extra_alts(lines, &title));
    alt_titles.sort();
    alt_titles.dedup();
    let from_title = if fmt.frame == crate::formats::FrameRule::Stall {
        None
    } else {
        frame.as_deref()
    };
    let guilty_file = crate::guilty::guilty_file(&frames, from_title)
        .or_else(|| crate::guilty::guilty_file(&frames, None));
    let top_frames = frames::top_frames(
        &frames,
        frame_text.as_deref().filter(|f| *f != CORRUPTED),
        raw_frame.as_deref(),
        |f| class.is_some_and(|c| c.skips(f)),
    );
    // The report's frame is the function as the stack names it (callers
    // look it up in the source); the title may name it without its
    // syscall wrapper prefix.
    let unstripped = raw_frame.as_deref().map(|f| match fmt.frame {
        crate::formats::FrameRule::Hung | crate::formats::FrameRule::Stall => {
            crate::hang::canonical(f)
        }
        _ => f.to_string(),
    });
    let frame = frame_text
        .filter(|f| f != CORRUPTED)
        .map(|f| match unstripped {
            Some(u) if crate::syscall::strip_wrappers(&u) == f => u,
            _ => f,
        })
        .or_else(|| pair_frame(&title));
    let start = lines[0].start;
    let end = lines.last().map_or(start, |l| l.end);
    let report = context_before(log, &lines[0]) + &report_text(lines);
    Report {
        title,
        alt_titles,
        kind,
        frame,
        corrupted: corrupted_reason.is_some(),
        corrupted_reason,
        suppressed: false,
        panicked,
        start,
        end,
        report,
        guilty_file,
        frames: top_frames,
    }
}

/// " Read" / " Write" from the KASAN access line right after the header.
pub fn access_of(lines: &[Line]) -> Option<&'static str> {
    let next = crate::header::next_nonempty(lines, crate::header::header_group(lines))?;
    crate::header::access_in(&next)
}

fn alt_titles_for(title: &str, frame: &str) -> Vec<String> {
    alt_titles(title, Some(frame))
}

/// Alternative titles some kinds carry regardless of frames.
fn extra_alts(lines: &[Line], title: &str) -> Vec<String> {
    if title.starts_with("SYZFATAL:") {
        return vec!["SYZFATAL".to_string()];
    }
    if title.starts_with("BUG: Dentry still in use") {
        if let Some(i) = lines[0].text.find("[unmount of ") {
            let tail = &lines[0].text[i..];
            let end = tail.find(']').map_or(tail.len(), |e| e + 1);
            return vec![title::normalize(&format!(
                "BUG: Dentry still in use {}",
                &tail[..end]
            ))];
        }
    }
    Vec::new()
}

pub fn alt_titles(title: &str, frame: Option<&str>) -> Vec<String> {
    let Some(frame) = frame else {
        return Vec::new();
    };
    let class = if title.starts_with("KASAN: invalid-free")
        || title.starts_with("KASAN: double-free")
    {
        "invalid-free"
    } else if title.starts_with("KASAN: ")
        && (title.contains(" Read in ") || title.contains(" Write in "))
        || title.starts_with("KMSAN: ")
        || title.starts_with("KFENCE: use-after-free")
        || title.starts_with("KFENCE: out-of-bounds")
        || title.starts_with("general protection fault")
        || title.starts_with("BUG: unable to handle kernel")
        || title.starts_with("Internal error")
        || title.starts_with("Unhandled fault")
        || title.starts_with("BUG: corrupted list")
        || title.starts_with("UBSAN: array-index-out-of-bounds")
    {
        "bad-access"
    } else if title.starts_with("INFO: task hung") || title.starts_with("INFO: task can't die") {
        "hang"
    } else if title.starts_with("INFO: rcu detected stall") || title.starts_with("BUG: soft lockup")
    {
        "stall"
    } else if title.starts_with("BUG: stack guard page was hit")
        || title.starts_with("kernel panic: corrupted stack end")
    {
        "stack-overflow"
    } else {
        return Vec::new();
    };
    vec![title::normalize(&format!("{class} in {frame}"))]
}

/// The report text: decoration-free lines, unreliable frames dropped.
fn report_text(lines: &[Line]) -> String {
    let mut out = String::new();
    for l in lines {
        if let Some(f) = crate::stack::parse_frame(&l.text) {
            if f.unreliable {
                continue;
            }
        }
        out.push_str(&l.text);
        out.push('\n');
    }
    // Blank lines after the last line of the report are not part of it.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// Console lines printed right before a report often explain it (an I/O
/// error, "cut here", the KASAN rule): up to this many go into its text.
const CONTEXT_LINES: usize = 5;

/// The kernel console lines right before `header`, oldest first, stopping
/// at the first line that is not timestamped kernel output (program
/// output interleaved in the console). Only for timestamped consoles,
/// where kernel lines can be told apart.
fn context_before(log: &[u8], header: &Line) -> String {
    if !header.stamped {
        return String::new();
    }
    let mut found = Vec::new();
    let mut pos = header.start;
    while found.len() < CONTEXT_LINES && pos > 0 {
        let start = crate::lines::line_start(log, pos - 1);
        let line = crate::lines::make_line(log, start, pos);
        if !line.stamped || line.text.trim().is_empty() {
            break;
        }
        found.push(line.text);
        pos = start;
    }
    let mut out = String::new();
    for t in found.iter().rev() {
        out.push_str(t);
        out.push('\n');
    }
    out
}

/// The frame of a KCSAN title ("KCSAN: data-race in f / g" names both
/// racing functions, "KCSAN: assert: race in f" one; the first is the
/// report's frame).
fn pair_frame(title: &str) -> Option<String> {
    if !title.starts_with("KCSAN: ") {
        return None;
    }
    let (_, tail) = title.rsplit_once(" in ")?;
    let first = tail.split_once(" / ").map_or(tail, |(f, _)| f);
    let ident = !first.is_empty()
        && first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    ident.then(|| first.to_string())
}
