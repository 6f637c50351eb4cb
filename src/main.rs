use clap::Parser;

fn main() {
    let cli = match mxdoctor::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { mxdoctor::app::EXIT_USAGE } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mxdoctor: cannot start the async runtime: {e}");
            std::process::exit(mxdoctor::app::EXIT_USAGE);
        }
    };
    let code = match runtime.block_on(mxdoctor::app::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mxdoctor: {e}");
            mxdoctor::app::EXIT_USAGE
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    record_peak_rss();
    std::process::exit(code);
}

/// With `MXDOCTOR_PEAK_RSS_FILE` set, writes this process's peak resident memory (Linux
/// `VmHWM` in KiB, counted from exec) there at exit: how the tests and benchmarks measure
/// memory. A parent's `wait4` figure would include the parent's own pages copied at fork.
fn record_peak_rss() {
    let Some(path) = std::env::var_os("MXDOCTOR_PEAK_RSS_FILE") else {
        return;
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
        .unwrap_or_default();
    let _ = std::fs::write(path, kib);
}
