//! Where keyward keeps its files, following the platform's conventions.

use directories::ProjectDirs;

/// keyward's directories; `None` only when no home directory can be found.
pub fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "keyward")
}
