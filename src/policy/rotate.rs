//! `keyward rotate --due`: the scheduled rotation job, as one plan across every key that is due.
//!
//! For each key due soon or violating (replicas excluded: they rotate with their primary), the
//! fix is built from the action module's own plans, so the same pre-flight checks apply: an
//! on-demand rotation where AWS can rotate the key and it is past its warning age (a manual
//! rotation to a successor once its 25 on-demand rotations are used), enabling automatic
//! rotation with the rule's period where it is off or too slow, and a manual rotation where AWS
//! cannot rotate the key at all. Each key's steps run as their own plan and are journaled as
//! one entry, so a failing key stops only itself.

use std::io::Write;

use serde::Serialize;

use super::{Rotator, Status, Verdict};
use crate::action::plan::{Call, KeyRef, Step};
use crate::action::{Context, KeyExtras, Plan, Refusal, Request, Risk};
use crate::estate::{Key, ON_DEMAND_ROTATION_LIMIT};

/// What one key needs to come back within its rule, in order.
pub fn requests(key: &Key, verdict: &Verdict) -> Vec<Request> {
    if !verdict.status.is_due() || verdict.follows_primary.is_some() {
        return Vec::new();
    }
    let Some(rule) = &verdict.rule else {
        return Vec::new();
    };
    if verdict.rotator == Some(Rotator::Manual) {
        return vec![Request::ManualRotate];
    }
    let past_warning = verdict
        .age_days
        .is_some_and(|age| age > i64::from(rule.warn_after_days));
    // A schedule that is too slow only because of AWS's next rotation date (its period is
    // fine) is fixed by rotating now, which restarts that date.
    let slow_date_only = verdict.status == Status::ScheduleTooSlow
        && verdict
            .reported_period_days
            .is_none_or(|p| p <= rule.period_days);
    let mut requests = Vec::new();
    if past_warning || slow_date_only {
        if key.rotation.on_demand_used() >= ON_DEMAND_ROTATION_LIMIT {
            return vec![Request::ManualRotate];
        }
        requests.push(Request::RotateNow);
    }
    let slow_period = verdict
        .reported_period_days
        .is_some_and(|p| p > rule.period_days);
    if verdict.automatic_rotation != Some(true) || slow_period {
        requests.push(Request::EnableRotation {
            period_days: rule.period_days,
        });
    }
    requests
}

/// The plan for one key: the action plans of `requests` run as one, in order.
pub fn key_plan(
    key: &Key,
    verdict: &Verdict,
    requests: &[Request],
    extras: &KeyExtras,
    ctx: &Context,
) -> Result<Plan, Refusal> {
    let mut plans = requests
        .iter()
        .map(|request| crate::action::plan(request, key, extras, ctx));
    let mut plan = plans
        .next()
        .ok_or_else(|| Refusal("nothing to do".into()))??;
    let mut titles = vec![plan.title.clone()];
    for next in plans {
        let next = next?;
        titles.push(next.title.clone());
        plan.steps.extend(next.steps);
        plan.afterwards.extend(next.afterwards);
        plan.notes.extend(next.notes);
        if next.risk == Risk::Destructive {
            plan.risk = Risk::Destructive;
        }
    }
    // A key AWS could rotate that moves to a successor (its on-demand rotations are used up):
    // the successor rotates automatically from the start.
    // The rule's period wins over the schedule the key handed on.
    if requests == [Request::ManualRotate]
        && verdict.rotator == Some(Rotator::Aws)
        && let Some(rule) = &verdict.rule
    {
        plan.steps.retain(|step| {
            !matches!(
                step.call,
                Call::EnableKeyRotation {
                    key: KeyRef::CreatedBy(0),
                    ..
                }
            )
        });
        plan.afterwards
            .retain(|line| !line.starts_with("the successor rotates automatically"));
        plan.notes
            .retain(|line| !line.starts_with("automatic rotation was off on the key"));
        plan.steps.push(Step::new(
            key.region.clone(),
            Call::EnableKeyRotation {
                key: KeyRef::CreatedBy(0),
                period_days: rule.period_days,
            },
        ));
        plan.afterwards.push(format!(
            "the successor rotates automatically every {} days",
            rule.period_days
        ));
    }
    // The on-demand plan's reminder that rotation stays off is moot when the plan enables it.
    if requests
        .iter()
        .any(|r| matches!(r, Request::EnableRotation { .. }))
    {
        plan.notes
            .retain(|n| !n.starts_with("automatic rotation stays off"));
    }
    plan.title = titles.join("; then ");
    Ok(plan)
}

/// One key of the job: its verdict and its plan, or why keyward cannot fix it.
#[derive(Debug, Clone, Serialize)]
pub struct DueKey {
    pub verdict: Verdict,
    pub plan: Result<Plan, String>,
}

/// Prints the whole job before anything runs.
pub fn write_job(due: &[DueKey], out: &mut impl Write) -> std::io::Result<()> {
    let runnable = due.iter().filter(|d| d.plan.is_ok()).count();
    writeln!(
        out,
        "Rotation of keys due under the policy: {} due, {runnable} with a plan",
        due.len()
    )?;
    for (index, item) in due.iter().enumerate() {
        writeln!(out)?;
        let v = &item.verdict;
        writeln!(
            out,
            "[{}/{}] {} in {}: {} ({})",
            index + 1,
            due.len(),
            v.name(),
            v.region,
            v.status,
            v.detail
        )?;
        match &item.plan {
            Ok(plan) => {
                for line in plan.lines().iter().filter(|l| !l.starts_with("To confirm")) {
                    writeln!(out, "    {line}")?;
                }
            }
            Err(reason) => writeln!(out, "    CANNOT BE FIXED BY KEYWARD: {reason}")?,
        }
    }
    Ok(())
}
