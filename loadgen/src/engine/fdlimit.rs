//! The open-file limit: every user holds its own connection, one file descriptor each,
//! and the usual soft limit of 1,024 would fail users beyond about a thousand with
//! "too many open files". loadgen raises its own soft limit when the plan needs more (an
//! unprivileged process may raise it up to the hard limit), or says plainly why it
//! cannot. The decision is a pure function ([`decide`]) so it is tested without
//! touching the process.

/// Descriptors kept for everything that is not a user's connection: the runtime's
/// epoll and wake-up descriptors, standard streams, output files, the web UI and metrics
/// listeners and their clients, a reconnecting user's second socket.
pub(crate) const RESERVED_FDS: u64 = 128;

/// What to do about the limit for a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdDecision {
    /// The soft limit already covers the plan.
    Enough {
        /// Descriptors needed.
        needed: u64,
        /// The soft limit.
        soft: u64,
    },
    /// Raise the soft limit to `to` (the hard limit), which covers the plan.
    Raise {
        /// Descriptors needed.
        needed: u64,
        /// The current soft limit.
        from: u64,
        /// The new soft limit.
        to: u64,
    },
    /// Even the hard limit is too low: raise the soft limit to it anyway, and warn.
    HardLimitTooLow {
        /// Descriptors needed.
        needed: u64,
        /// The current soft limit.
        from: u64,
        /// The hard limit.
        hard: u64,
    },
}

/// Descriptors a plan of `users` concurrent users needs.
pub(crate) fn needed_fds(users: usize) -> u64 {
    (users as u64).saturating_add(RESERVED_FDS)
}

/// Whether and how far to raise the soft limit for `users` users.
pub(crate) fn decide(users: usize, soft: u64, hard: u64) -> FdDecision {
    let needed = needed_fds(users);
    if soft >= needed {
        FdDecision::Enough { needed, soft }
    } else if hard >= needed {
        FdDecision::Raise {
            needed,
            from: soft,
            to: hard,
        }
    } else {
        FdDecision::HardLimitTooLow {
            needed,
            from: soft,
            hard,
        }
    }
}

/// Why a plan may run short of descriptors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FdLimitError {
    /// The hard limit is below what the plan needs.
    #[error("{users} users need about {needed} open files (one connection each), but the hard limit is {hard}: users beyond about {usable} will fail with \"too many open files\"; raise it before starting loadgen, e.g. `ulimit -n {needed}` as root or in /etc/security/limits.conf")]
    HardLimitTooLow {
        /// Users planned.
        users: usize,
        /// Descriptors needed.
        needed: u64,
        /// The hard limit.
        hard: u64,
        /// Users that fit.
        usable: u64,
    },
    /// The limit could not be read or set.
    #[error("cannot {what} the open-file limit (needed for {users} users): {reason}")]
    System {
        /// `read` or `raise`.
        what: &'static str,
        /// Users planned.
        users: usize,
        /// The system's error text.
        reason: String,
    },
}

/// Makes room for `users` connections: raises the soft limit when needed and returns
/// the decision taken, or why the plan does not fit.
pub(crate) fn ensure_for_users(users: usize) -> Result<FdDecision, FdLimitError> {
    let system = |what, e: std::io::Error| FdLimitError::System {
        what,
        users,
        reason: e.to_string(),
    };
    let (soft, hard) =
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_err(|e| system("read", e))?;
    let decision = decide(users, soft, hard);
    match decision {
        FdDecision::Enough { .. } => Ok(decision),
        FdDecision::Raise { to, .. } => {
            rlimit::increase_nofile_limit(to).map_err(|e| system("raise", e))?;
            Ok(decision)
        }
        FdDecision::HardLimitTooLow { needed, hard, .. } => {
            // Raising to the hard limit still lets more users run than the soft one.
            let _ = rlimit::increase_nofile_limit(hard);
            Err(FdLimitError::HardLimitTooLow {
                users,
                needed,
                hard,
                usable: hard.saturating_sub(RESERVED_FDS),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_plan_keeps_the_limit() {
        assert_eq!(
            decide(50, 1024, 4096),
            FdDecision::Enough {
                needed: 178,
                soft: 1024
            }
        );
        // Exactly enough is enough.
        assert!(matches!(decide(896, 1024, 1024), FdDecision::Enough { .. }));
    }

    #[test]
    fn a_large_plan_raises_the_soft_limit_to_the_hard_one() {
        assert_eq!(
            decide(10_000, 1024, 1_048_576),
            FdDecision::Raise {
                needed: 10_128,
                from: 1024,
                to: 1_048_576
            }
        );
        assert!(matches!(
            decide(897, 1024, 1025),
            FdDecision::Raise { to: 1025, .. }
        ));
    }

    #[test]
    fn a_hard_limit_too_low_is_named_with_the_fix() {
        assert_eq!(
            decide(10_000, 1024, 4096),
            FdDecision::HardLimitTooLow {
                needed: 10_128,
                from: 1024,
                hard: 4096
            }
        );
        let e = FdLimitError::HardLimitTooLow {
            users: 10_000,
            needed: 10_128,
            hard: 4096,
            usable: 3968,
        };
        let text = e.to_string();
        assert!(text.contains("hard limit is 4096"), "{text}");
        assert!(text.contains("ulimit -n 10128"), "{text}");
        assert!(text.contains("about 3968"), "{text}");
    }

    #[test]
    fn the_process_limit_covers_a_plan_that_fits() {
        let (_, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let users = usize::try_from(hard.min(4096).saturating_sub(RESERVED_FDS)).unwrap();
        let decision = ensure_for_users(users).unwrap();
        assert!(!matches!(decision, FdDecision::HardLimitTooLow { .. }));
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        assert!(soft >= needed_fds(users), "{soft}");
    }
}
