//! The rules of docs/architecture.md that code can check: a kernel's name is written only in
//! its own file, no source file grows past a screenful of screens, the microkernels take one
//! argument struct, and README.md stays a page. (The import-cycle rule is checked by
//! `scripts/module_cycles.py`, which CI runs.)

use std::path::{Path, PathBuf};

use nin_bench::registry::Registry;

fn src_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            src_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    src_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

/// The most lines a file of src/ may have.
const MAX_LINES: usize = 600;

#[test]
fn each_kernel_name_is_written_only_in_the_file_that_declares_it() {
    let sources = sources();
    for kernel in Registry::from_env().all() {
        let quoted = format!("\"{}\"", kernel.name());
        let declaration = format!("name: {quoted}");
        let files: Vec<&PathBuf> = sources.iter().filter(|(_, text)| text.contains(&quoted)).map(|(p, _)| p).collect();
        let declaring: Vec<&PathBuf> =
            sources.iter().filter(|(_, text)| text.contains(&declaration)).map(|(p, _)| p).collect();
        assert_eq!(declaring.len(), 1, "{} is declared in {declaring:?}", kernel.name());
        assert_eq!(files, declaring, "{} is written outside its own file", kernel.name());
    }
}

#[test]
fn no_source_file_is_longer_than_600_lines() {
    for (path, text) in sources() {
        let lines = text.lines().count();
        assert!(lines <= MAX_LINES, "{} has {lines} lines: split it by what its parts do", path.display());
    }
}

#[test]
fn microkernels_take_one_argument_struct() {
    for (path, text) in sources().into_iter().filter(|(p, _)| p.components().any(|c| c.as_os_str() == "ukernel")) {
        assert!(!text.contains("too_many_arguments"), "{}: pass a TileArgs instead", path.display());
    }
}

#[test]
fn readme_is_at_most_150_lines() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(lines <= 150, "README.md has {lines} lines: move the detail to docs/");
}
