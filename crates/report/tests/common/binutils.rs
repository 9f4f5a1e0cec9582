//! Reading what binutils' `addr2line -a -i -f` prints, to compare with.

use culprit_report::symbolize::{paths::Prefixes, Frame};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Frames binutils gives for each address (innermost first), paths made
/// relative with `prefixes`.
pub fn addr2line(elf: &Path, addrs: &[u64], prefixes: &Prefixes) -> Vec<Vec<Frame>> {
    let mut child = Command::new("addr2line")
        .args(["-a", "-i", "-f", "-e"])
        .arg(elf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run addr2line");
    let input: String = addrs.iter().map(|a| format!("{a:#x}\n")).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("addr2line output");
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "addr2line failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut result: Vec<Vec<Frame>> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(l) = lines.next() {
        assert!(l.starts_with("0x"), "expected an address header, got {l:?}");
        let mut frames = Vec::new();
        while lines.peek().is_some_and(|l| !l.starts_with("0x")) {
            let func = lines.next().unwrap();
            let loc = lines.next().expect("location line");
            let loc = loc.split(" (discriminator").next().unwrap();
            let (file, line) = loc.rsplit_once(':').unwrap_or((loc, "?"));
            frames.push(Frame {
                function: (func != "??").then(|| func.to_string()),
                file: (file != "??").then(|| prefixes.relative(file)),
                line: line.parse().ok().filter(|&n| n != 0),
                inline: true,
            });
        }
        if let Some(last) = frames.last_mut() {
            last.inline = false;
        }
        // binutils prints one "?? ??:0" frame for an unknown address.
        if frames.len() == 1 && frames[0].function.is_none() && frames[0].file.is_none() {
            frames.clear();
        }
        result.push(frames);
    }
    assert_eq!(result.len(), addrs.len(), "one answer per address");
    result
}

/// Ours and binutils' frames agree: same functions, files and lines.
/// A frame binutils has no line for (`:0`/`:?`) counts as line `None`.
pub fn same(ours: &[Frame], theirs: &[Frame]) -> bool {
    let norm = |f: &[Frame]| -> Vec<Frame> {
        f.iter()
            .map(|f| Frame {
                line: f.line.filter(|&n| n != 0),
                ..f.clone()
            })
            .collect()
    };
    norm(ours) == norm(theirs)
}
