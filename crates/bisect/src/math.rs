//! Small numeric helpers: log-gamma, log-beta, log-sum-exp, entropies of
//! count distributions. Written here so the engine needs no math crate.

/// Lanczos coefficients for g = 7, n = 9 (about 15 significant digits).
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// Natural log of the gamma function for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    if x < 0.5 {
        // Reflection keeps the series in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// ln B(a, b).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// ln of the binomial coefficient C(n, k).
pub fn ln_choose(n: u32, k: u32) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// Beta-binomial pmf of k successes in r trials, success rate ~ Beta(a, b).
pub fn beta_binomial(r: u32, a: f64, b: f64) -> Vec<f64> {
    let base = ln_beta(a, b);
    (0..=r)
        .map(|k| (ln_choose(r, k) + ln_beta(a + k as f64, b + (r - k) as f64) - base).exp())
        .collect()
}

/// Binomial pmf of k successes in r trials with rate p.
pub fn binomial(r: u32, p: f64) -> Vec<f64> {
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    (0..=r)
        .map(|k| {
            let v = ln_choose(r, k) + k as f64 * lp + (r - k) as f64 * lq;
            if v.is_finite() {
                v.exp()
            } else if (k == 0 && p == 0.0) || (k == r && p == 1.0) {
                1.0
            } else {
                0.0
            }
        })
        .collect()
}

/// Shannon entropy in bits.
pub fn entropy(pmf: &[f64]) -> f64 {
    pmf.iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| -p * p.log2())
        .sum()
}

/// ln(1 - e^x) for x <= 0.
pub fn ln_1m_exp(x: f64) -> f64 {
    if x >= 0.0 {
        f64::NEG_INFINITY
    } else if x > -std::f64::consts::LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

/// ln of the sum of e^x over `xs`, without overflow (-inf when empty).
pub fn log_sum_exp(xs: &[f64]) -> f64 {
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + xs.iter().map(|x| (x - max).exp()).sum::<f64>().ln()
}

/// Beta(a, b) with mean `m` and second moment `m2` (moment matching). A
/// spread too small for a Beta (a point mass, rounding) gives a very
/// narrow one at the mean.
pub fn moment_beta(m: f64, m2: f64) -> (f64, f64) {
    let m = m.clamp(1e-9, 1.0 - 1e-9);
    let var = (m2 - m * m).max(0.0);
    // a + b = m (1 - m) / var - 1; capped where the data stop mattering.
    let n = if var > 0.0 {
        (m * (1.0 - m) / var - 1.0).clamp(1e-3, 1e9)
    } else {
        1e9
    };
    (m * n, (1.0 - m) * n)
}

/// Probability that `n` runs all miss when the rate is ~ Beta(a, b):
/// E[(1 - q)^n] = B(a, b + n) / B(a, b).
pub fn beta_miss(a: f64, b: f64, n: u32) -> f64 {
    (ln_beta(a, b + n as f64) - ln_beta(a, b)).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..30u32 {
            // ln Γ(n) = ln (n-1)!
            assert!((ln_gamma(n as f64) - f.ln()).abs() < 1e-10 * f.ln().abs().max(1.0));
            f *= n as f64;
        }
        // Γ(1/2) = sqrt(pi)
        let half = std::f64::consts::PI.sqrt().ln();
        assert!((ln_gamma(0.5) - half).abs() < 1e-12);
        assert!((ln_gamma(0.1) - 2.252_712_651_734_206).abs() < 1e-10);
    }

    #[test]
    fn pmfs_sum_to_one() {
        for r in 0..12 {
            let s: f64 = beta_binomial(r, 2.5, 0.7).iter().sum();
            assert!((s - 1.0).abs() < 1e-9, "{s}");
            let s: f64 = binomial(r, 0.3).iter().sum();
            assert!((s - 1.0).abs() < 1e-9, "{s}");
        }
        assert_eq!(binomial(3, 0.0), vec![1.0, 0.0, 0.0, 0.0]);
        assert!((entropy(&[0.5, 0.5]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn moment_beta_keeps_mean_and_variance() {
        let (a, b) = (3.0, 5.0);
        let m = a / (a + b);
        let m2 = m * (a + 1.0) / (a + b + 1.0);
        let (x, y) = moment_beta(m, m2);
        assert!((x - a).abs() < 1e-9 && (y - b).abs() < 1e-9, "{x} {y}");
        // No spread: a point mass in all but name.
        let (x, y) = moment_beta(0.4, 0.16);
        assert!((x / (x + y) - 0.4).abs() < 1e-9 && x + y > 1e8);
    }

    #[test]
    fn a_wide_rate_misses_more_often_than_its_mean_says() {
        // Beta(3, 2), mean 0.6: E[(1 - q)^n] = prod_{i<n} (2 + i) / (5 + i).
        for n in 0..8u32 {
            let want: f64 = (0..n)
                .map(|i| (2.0 + i as f64) / (5.0 + i as f64))
                .product();
            assert!((beta_miss(3.0, 2.0, n) - want).abs() < 1e-12, "{n}");
            // Jensen: (1 - q)^n is convex, so never less than at the mean.
            assert!(beta_miss(3.0, 2.0, n) >= 0.4f64.powi(n as i32) * (1.0 - 1e-12));
        }
        // A sharp belief behaves like the point estimate.
        let (a, b) = (0.6 * 1e6, 0.4 * 1e6);
        assert!((beta_miss(a, b, 5) / 0.4f64.powi(5) - 1.0).abs() < 1e-4);
    }
}
