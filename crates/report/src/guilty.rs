//! The guilty source file: the first file in the stack that is not
//! generic infrastructure.

use crate::stack::{is_infra, is_infra_file, Frame};

/// First non-infrastructure source file among reliable frames, starting
/// at the title frame when there is one.
pub fn guilty_file(frames: &[Frame], title_frame: Option<&str>) -> Option<String> {
    let from = title_frame
        .and_then(|t| frames.iter().position(|f| !f.unreliable && f.func() == t))
        .unwrap_or(0);
    frames[from..]
        .iter()
        .filter(|f| !f.unreliable && !is_infra(f.func()))
        .filter_map(|f| f.file.as_deref())
        .find(|p| !is_infra_file(p))
        .map(str::to_string)
}
