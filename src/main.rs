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
    std::process::exit(code);
}
