//! Creates (or reuses) the demo history and prints where it is:
//! `cargo run -p culprit-kernel --example demo -- DIR [TARBALL]`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).ok_or("usage: demo DIR [TARBALL]")?;
    let tarball = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "/usr/src/linux-source-6.1.tar.xz".into());
    let t = std::time::Instant::now();
    let cancel = culprit_proc::Cancel::new();
    let d = culprit_kernel::demo::create(
        tarball.as_ref(),
        dir.as_ref(),
        &mut |l| println!("{l}"),
        &cancel,
    )?;
    println!("repo:       {}", d.repo.display());
    println!("good:       {}", d.good);
    println!("bad:        {}", d.bad);
    println!("injected:   {}", d.injected);
    println!("fixed:      {}", d.fixed);
    println!("head:       {}", d.head);
    println!("flaky boot: {}", d.flaky_boot);
    println!("commits:    {}", d.commits);
    println!("config:     {}", d.config.display());
    println!("repro:      {}", d.repro.display());
    println!("total:      {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}
