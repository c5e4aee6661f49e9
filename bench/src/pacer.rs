#![forbid(unsafe_code)]
//! `pacer <url> <token> <per_second> <seconds> <body-file>`: POSTs the body at a steady
//! rate (not as fast as possible), for end-to-end latency at a known load.

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, token) = (args[0].clone(), args[1].clone());
    let rate: f64 = args[2].parse().unwrap();
    let seconds: f64 = args[3].parse().unwrap();
    let body = std::fs::read_to_string(&args[4]).unwrap();
    let client = reqwest::Client::new();
    let total = (rate * seconds) as u64;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (client, url, token, body) = (client.clone(), url.clone(), token.clone(), body.clone());
        tasks.spawn(async move {
            let r = client.post(url).bearer_auth(token).header("content-type", "application/json").body(body).send().await;
            r.map(|r| r.status().is_success()).unwrap_or(false)
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        if r.unwrap_or(false) {
            ok += 1;
        }
    }
    println!("{ok}/{total} requests succeeded in {:.1}s", start.elapsed().as_secs_f64());
}
