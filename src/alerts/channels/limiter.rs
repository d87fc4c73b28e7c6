//! A sliding-window limit on messages per robot (DingTalk: 20 a minute),
//! shared by every channel that posts to the same robot URL.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub struct WindowLimiter {
    limit: usize,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl WindowLimiter {
    pub fn new(limit: usize, window: Duration) -> Self {
        WindowLimiter {
            limit: limit.max(1),
            window,
            sent: Mutex::new(VecDeque::new()),
        }
    }

    /// Waits until one more message fits in the window and counts it.
    /// Cancel-safe: a slot is only taken when no wait is left.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                while sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    sent.pop_front();
                }
                if sent.len() < self.limit {
                    sent.push_back(now);
                    return;
                }
                self.window - now.duration_since(sent[0])
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The limiter of one robot, by a digest of its URL (the URL itself is not
/// kept as a key).
pub fn for_robot(url: &str, limit: usize, window: Duration) -> Arc<WindowLimiter> {
    static ROBOTS: LazyLock<Mutex<HashMap<Vec<u8>, Arc<WindowLimiter>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    use sha2::Digest;
    let key = sha2::Sha256::digest(url.as_bytes()).to_vec();
    let mut robots = ROBOTS.lock().unwrap_or_else(|e| e.into_inner());
    robots
        .entry(key)
        .or_insert_with(|| Arc::new(WindowLimiter::new(limit, window)))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On tokio's paused clock: DingTalk's own limit, exact waits, no
    /// minute spent.
    #[tokio::test(start_paused = true)]
    async fn a_message_over_the_limit_waits_for_the_window() {
        let limiter = WindowLimiter::new(20, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..20 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "20 pass at once");
        tokio::time::advance(Duration::from_secs(10)).await;
        limiter.acquire().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(60),
            "the 21st waits until the first leaves the window"
        );
        // The window slides: the 22nd fits once the second message is a
        // minute old, which it already is.
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[test]
    fn robots_are_told_apart_by_url() {
        let a = for_robot(
            "https://x/robot/send?access_token=a",
            20,
            Duration::from_secs(60),
        );
        let a2 = for_robot(
            "https://x/robot/send?access_token=a",
            20,
            Duration::from_secs(60),
        );
        let b = for_robot(
            "https://x/robot/send?access_token=b",
            20,
            Duration::from_secs(60),
        );
        assert!(Arc::ptr_eq(&a, &a2));
        assert!(!Arc::ptr_eq(&a, &b));
    }
}
