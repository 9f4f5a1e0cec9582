use super::*;

const SAMPLE: &str = "\
List of maintainers
===================
	M: Mail patches to (this is header text, not a field)

IO_URING
M:	Jens Axboe <axboe@kernel.dk>
R:	Pavel Begunkov <asml.silence@gmail.com>
L:	io-uring@vger.kernel.org
S:	Maintained
T:	git git://git.kernel.dk/linux-block
F:	fs/io_uring.c
F:	io_uring/
X:	io_uring/excluded.c

# a comment between entries
ARM/ROCKCHIP SUPPORT
M:	Heiko Stuebner <heiko@sntech.de>
L:	linux-rockchip@lists.infradead.org (moderated for non-subscribers)
L:	secret@example.org (subscribers-only)
S:	Odd Fixes
N:	rockchip

RISC-V ARCHITECTURE
M:	Jens Axboe <other@example.org>
L:	linux-riscv@lists.infradead.org
S:	Supported
F:	arch/riscv/
K:	riscv

THE REST
M:	Linus Torvalds <torvalds@linux-foundation.org>
L:	linux-kernel@vger.kernel.org
S:	Buried alive in reporters
F:	*
F:	*/
";

fn lines(m: &Maintainers, inputs: &[Input<'_>]) -> Vec<String> {
    m.lookup(inputs)
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect()
}

#[test]
fn parses_entries_and_all_fields() {
    let m = Maintainers::parse(SAMPLE).unwrap();
    let names: Vec<&str> = m.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "IO_URING",
            "ARM/ROCKCHIP SUPPORT",
            "RISC-V ARCHITECTURE",
            "THE REST"
        ]
    );
    let io = &m.entries()[0];
    let kinds: String = io.fields.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, "MRLSTFFX");
    assert_eq!(io.fields[4].value, "git git://git.kernel.dk/linux-block");
    assert_eq!(io.line, 5);
}

#[test]
fn file_lookup_orders_by_specificity_and_falls_back_to_the_rest() {
    let m = Maintainers::parse(SAMPLE).unwrap();
    let got = lines(
        &m,
        &[Input::File {
            path: "fs/io_uring.c",
            content: None,
        }],
    );
    assert_eq!(
        got,
        [
            "Jens Axboe <axboe@kernel.dk> (maintainer:IO_URING)",
            "Pavel Begunkov <asml.silence@gmail.com> (reviewer:IO_URING)",
            "io-uring@vger.kernel.org (open list:IO_URING)",
            "linux-kernel@vger.kernel.org (open list)",
        ]
    );
    // X: excludes; Linus is never listed.
    let got = lines(
        &m,
        &[Input::File {
            path: "io_uring/excluded.c",
            content: None,
        }],
    );
    assert_eq!(got, ["linux-kernel@vger.kernel.org (open list)"]);
}

#[test]
fn name_regex_moderated_and_subscriber_lists() {
    let m = Maintainers::parse(SAMPLE).unwrap();
    let got = lines(
        &m,
        &[Input::File {
            path: "drivers/clk/rockchip/clk.c",
            content: None,
        }],
    );
    assert_eq!(
        got,
        [
            "Heiko Stuebner <heiko@sntech.de> (odd fixer:ARM/ROCKCHIP SUPPORT)",
            "linux-rockchip@lists.infradead.org (moderated list:ARM/ROCKCHIP SUPPORT)",
            "linux-kernel@vger.kernel.org (open list)",
        ]
    );
}

#[test]
fn keywords_match_patch_lines_and_same_name_is_deduplicated() {
    let m = Maintainers::parse(SAMPLE).unwrap();
    let patch = b"--- a/fs/io_uring.c\n+++ b/fs/io_uring.c\n@@ -1,1 +1,1 @@\n-x\n+riscv thing\n";
    let got = lines(&m, &[Input::Patch(patch)]);
    assert_eq!(
        got,
        [
            "Jens Axboe <axboe@kernel.dk> (maintainer:IO_URING)",
            "Pavel Begunkov <asml.silence@gmail.com> (reviewer:IO_URING)",
            "io-uring@vger.kernel.org (open list:IO_URING)",
            "linux-kernel@vger.kernel.org (open list)",
            "linux-riscv@lists.infradead.org (open list:RISC-V ARCHITECTURE)",
        ]
    );
    // Keywords on context lines do not count.
    let patch = b"--- a/fs/io_uring.c\n+++ b/fs/io_uring.c\n@@ -1,1 +1,1 @@\n riscv\n-x\n+y\n";
    assert_eq!(lines(&m, &[Input::Patch(patch)]).len(), 4);
}

#[test]
fn load_checks_directories_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Maintainers::load(dir.path()).unwrap().is_none());
    let text = format!("{SAMPLE}\nFOO\nM:\tFoo <foo@example.org>\nS:\tMaintained\nF:\tdrivers/foo\nF:\tfs/io_uring.c\n");
    std::fs::write(dir.path().join("MAINTAINERS"), text).unwrap();
    std::fs::create_dir_all(dir.path().join("drivers/foo")).unwrap();
    std::fs::create_dir_all(dir.path().join("fs/io_uring.c")).unwrap();
    let m = Maintainers::load(dir.path()).unwrap().unwrap();
    // `drivers/foo` is a directory of the tree: it covers what is below.
    let r = m
        .lookup_paths(dir.path(), &[PathBuf::from("drivers/foo/x/y.c")])
        .unwrap();
    assert_eq!(r[0].role, "maintainer:FOO");
    // get_maintainer.pl tests `-d` on the converted pattern (`fs/io_uring\.c`),
    // so a dotted name never becomes a directory pattern.
    let r = m
        .lookup_paths(dir.path(), &[PathBuf::from("fs/io_uring.c/x.c")])
        .unwrap();
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].role, "open list");
}
