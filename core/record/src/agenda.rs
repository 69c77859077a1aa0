//! The agenda: appointments, and prevention reminders computed from the owner's age, sex,
//! vaccinations and completed screenings against the French calendar
//! (`data/prevention-fr-2025.json`, sources inside).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Month};

use crate::error::{RecordError, Result};
use crate::profile::{NewProfileItem, ProfileKind, VACCINE_GROUP_SYSTEM};
use crate::record::{
    Gender, MAX_LONG_TEXT, MAX_SHORT_TEXT, Professional, Record, check_professional, check_text,
    parse_date, parse_instant,
};

/// Item kind of appointments.
pub(crate) const APPOINTMENT: &str = "appointment";
/// Item kind of completed screenings and check-ups.
pub(crate) const REMINDER_DONE: &str = "reminder_done";
/// The prevention calendar, as shipped.
const CALENDAR_JSON: &str = include_str!("../data/prevention-fr-2025.json");
/// How far ahead reminders are shown, in months.
const HORIZON_MONTHS: u32 = 12;
/// How long after its date a reminder is "due" before it is "overdue", in months.
const DUE_GRACE_MONTHS: u32 = 6;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// What a prevention rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// A vaccination.
    Vaccination,
    /// A cancer screening.
    Screening,
    /// A prevention check-up.
    Checkup,
}

/// One rule of the prevention calendar.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreventionRule {
    /// Stable identifier (`dtp-25`, `cancer-sein`).
    pub id: String,
    /// What it asks for.
    pub kind: ReminderKind,
    /// Vaccine group (code in [`VACCINE_GROUP_SYSTEM`]) for vaccinations.
    pub group: Option<String>,
    /// Sex it concerns; everyone when absent.
    pub sex: Option<Gender>,
    /// Label, in French.
    pub label: String,
    /// Age at which it is due, in months.
    pub at_months: u32,
    /// Age after which it no longer applies (catch-up over), in months.
    pub until_months: Option<u32>,
    /// For recurring rules, the interval in months.
    pub every_months: Option<u32>,
    /// For one-off rules, how many doses of the group it takes to be done (a series).
    pub needed: Option<u32>,
    /// For one-off rules, the age from which doses count, in months.
    pub counts_from_months: Option<u32>,
}

/// The prevention calendar.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreventionCalendar {
    /// Name of the rule set (the calendar it follows).
    pub name: String,
    /// Where the rules come from.
    pub sources: Vec<String>,
    /// The licence the rules are published under.
    pub licence: String,
    /// The rules, each a prevention act and who it is for.
    pub rules: Vec<PreventionRule>,
}

impl PreventionCalendar {
    /// The calendar shipped with Carnet.
    pub fn french() -> Result<Self> {
        serde_json::from_str(CALENDAR_JSON)
            .map_err(|e| RecordError::Corrupt(format!("prevention calendar: {e}")))
    }

    fn rule(&self, id: &str) -> Result<&PreventionRule> {
        self.rules
            .iter()
            .find(|r| r.id == id)
            .ok_or_else(|| RecordError::InvalidInput(format!("no prevention rule {id:?}")))
    }
}

/// Where a reminder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderStatus {
    /// Due within the next months.
    Upcoming,
    /// Due now: its window has opened.
    Due,
    /// Due for more than six months.
    Overdue,
}

/// A prevention reminder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reminder {
    /// The rule it comes from.
    pub rule_id: String,
    /// What it asks for.
    pub kind: ReminderKind,
    /// Label, in French.
    pub label: String,
    /// Date it is due, `YYYY-MM-DD`.
    pub due_date: String,
    /// Where it stands today.
    pub status: ReminderStatus,
}

/// A completed screening or check-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedReminder {
    /// The appointment's id in the record.
    pub id: String,
    /// The rule it completes.
    pub rule_id: String,
    /// The rule's label when completed.
    pub label: String,
    /// When, Unix milliseconds.
    pub date_millis: i64,
}

/// What the caller says of a new appointment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewAppointment {
    /// What it is ("Consultation cardiologie").
    pub title: String,
    /// Start, Unix milliseconds.
    pub start_millis: i64,
    /// End, Unix milliseconds.
    pub end_millis: Option<i64>,
    /// Where it takes place, as typed.
    pub location: Option<String>,
    /// The professional seen, if given.
    pub professional: Option<Professional>,
    /// The person's own notes.
    pub notes: Option<String>,
}

/// An appointment in the agenda, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// The appointment's id in the record.
    pub id: String,
    /// What it is.
    pub title: String,
    /// Start, Unix milliseconds.
    pub start_millis: i64,
    /// End, Unix milliseconds.
    pub end_millis: Option<i64>,
    /// Where it takes place, as typed.
    pub location: Option<String>,
    /// The professional seen, if given.
    pub professional: Option<Professional>,
    /// The person's own notes.
    pub notes: Option<String>,
}

/// The agenda from a given day: appointments to come and prevention reminders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agenda {
    /// Appointments from that day on, soonest first.
    pub appointments: Vec<Appointment>,
    /// Prevention reminders, soonest first; empty until the owner's birth date is known.
    pub reminders: Vec<Reminder>,
}

impl Record {
    /// Adds an appointment.
    pub fn add_appointment(&self, new: &NewAppointment) -> Result<Appointment> {
        check_text("title", &new.title, MAX_SHORT_TEXT)?;
        if let Some(location) = &new.location {
            check_text("location", location, MAX_SHORT_TEXT)?;
        }
        if let Some(notes) = &new.notes {
            check_text("notes", notes, MAX_LONG_TEXT)?;
        }
        if let Some(professional) = &new.professional {
            check_professional(professional)?;
        }
        if new.end_millis.is_some_and(|end| end < new.start_millis) {
            return Err(RecordError::InvalidInput(
                "the appointment ends before it starts".into(),
            ));
        }
        let appointment = Appointment {
            id: crate::crypto::random_id()?,
            title: new.title.trim().to_owned(),
            start_millis: new.start_millis,
            end_millis: new.end_millis,
            location: new.location.clone(),
            professional: new.professional.clone(),
            notes: new.notes.clone(),
        };
        self.store
            .write(|w| w.put(APPOINTMENT, &appointment.id, &appointment))?;
        Ok(appointment)
    }

    /// Cancels (deletes) appointment `id`.
    pub fn cancel_appointment(&self, id: &str) -> Result<()> {
        self.store.write(|w| {
            if w.delete(APPOINTMENT, id)? {
                Ok(())
            } else {
                Err(RecordError::NotFound("appointment"))
            }
        })
    }

    /// Every appointment, soonest first.
    pub fn appointments(&self) -> Result<Vec<Appointment>> {
        let mut appointments: Vec<Appointment> = self
            .store
            .read(|r| r.list(APPOINTMENT))?
            .into_iter()
            .map(|(_, a)| a)
            .collect();
        appointments.sort_by_key(|a| a.start_millis);
        Ok(appointments)
    }

    /// The agenda as of now (the store's clock).
    pub fn agenda(&self) -> Result<Agenda> {
        let now = self.store.now_millis();
        let today = date_of(now);
        let appointments = self
            .appointments()?
            .into_iter()
            .filter(|a| a.end_millis.unwrap_or(a.start_millis) >= now - MILLIS_PER_DAY)
            .collect();
        let reminders = match self.patient()? {
            Some(patient) => {
                let birth = parse_date(&patient.birth_date)?;
                let done = self.completions()?;
                reminders(
                    &PreventionCalendar::french()?,
                    birth,
                    patient.gender,
                    &done,
                    today,
                )
            }
            None => Vec::new(),
        };
        Ok(Agenda {
            appointments,
            reminders,
        })
    }

    /// Marks prevention rule `rule_id` done on `date_millis`: a vaccination is added to the
    /// profile as an Immunization of its group; a screening or check-up is kept as such.
    pub fn complete_reminder(&self, rule_id: &str, date_millis: i64) -> Result<()> {
        let calendar = PreventionCalendar::french()?;
        let rule = calendar.rule(rule_id)?;
        match (&rule.kind, &rule.group) {
            (ReminderKind::Vaccination, Some(group)) => {
                let new = NewProfileItem {
                    text: rule.label.clone(),
                    code: Some(crate::model::Coding {
                        system: VACCINE_GROUP_SYSTEM.into(),
                        code: group.clone(),
                        display: None,
                    }),
                    date_millis: Some(date_millis),
                };
                self.add_profile_item(ProfileKind::Immunization, &new)
                    .map(|_| ())
            }
            _ => {
                let done = CompletedReminder {
                    id: crate::crypto::random_id()?,
                    rule_id: rule.id.clone(),
                    label: rule.label.clone(),
                    date_millis,
                };
                self.store.write(|w| w.put(REMINDER_DONE, &done.id, &done))
            }
        }
    }

    /// Completed screenings and check-ups.
    pub fn completed_reminders(&self) -> Result<Vec<CompletedReminder>> {
        Ok(self
            .store
            .read(|r| r.list(REMINDER_DONE))?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }

    /// What counts as done: (rule id or vaccine group, date).
    fn completions(&self) -> Result<Vec<(String, Date)>> {
        let mut done: Vec<(String, Date)> = self
            .completed_reminders()?
            .into_iter()
            .map(|c| (c.rule_id, date_of(c.date_millis)))
            .collect();
        for item in self.profile(Some(ProfileKind::Immunization))? {
            let date = item
                .resource
                .get("occurrenceDateTime")
                .and_then(Value::as_str)
                .and_then(|t| parse_instant(t).ok());
            let codings = item
                .resource
                .pointer("/vaccineCode/coding")
                .and_then(Value::as_array);
            let groups = codings
                .into_iter()
                .flatten()
                .filter(|c| c.get("system").and_then(Value::as_str) == Some(VACCINE_GROUP_SYSTEM));
            for group in groups.filter_map(|c| c.get("code").and_then(Value::as_str)) {
                if let Some(date) = date {
                    done.push((group.to_owned(), date_of(date)));
                }
            }
        }
        Ok(done)
    }
}

/// The reminders `calendar` gives a person born on `birth` of sex `gender`, who has done
/// `done` ((rule id or vaccine group, date) pairs), as of `today`.
pub fn reminders(
    calendar: &PreventionCalendar,
    birth: Date,
    gender: Gender,
    done: &[(String, Date)],
    today: Date,
) -> Vec<Reminder> {
    let horizon = add_months(today, HORIZON_MONTHS);
    let mut reminders: Vec<Reminder> = calendar
        .rules
        .iter()
        .filter(|rule| rule.sex.is_none_or(|sex| sex == gender))
        .filter_map(|rule| {
            let key = rule.group.as_deref().unwrap_or(&rule.id);
            let dates = done.iter().filter(|(k, _)| k == key).map(|(_, d)| *d);
            let start = add_months(birth, rule.at_months);
            let end = rule.until_months.map(|m| add_months(birth, m));
            let due = match rule.every_months {
                Some(every) => {
                    let recent = dates.filter(|d| *d >= sub_months(start, every)).max();
                    recent.map_or(start, |last| add_months(last, every).max(start))
                }
                None => {
                    let from = add_months(birth, rule.counts_from_months.unwrap_or(rule.at_months));
                    let count = dates.filter(|d| *d >= from).count() as u32;
                    if count >= rule.needed.unwrap_or(1) {
                        return None;
                    }
                    start
                }
            };
            if end.is_some_and(|end| due >= end || today >= end) || due > horizon {
                return None;
            }
            let status = if due > today {
                ReminderStatus::Upcoming
            } else if add_months(due, DUE_GRACE_MONTHS) > today {
                ReminderStatus::Due
            } else {
                ReminderStatus::Overdue
            };
            Some(Reminder {
                rule_id: rule.id.clone(),
                kind: rule.kind,
                label: rule.label.clone(),
                due_date: due.to_string(),
                status,
            })
        })
        .collect();
    reminders.sort_by(|a, b| {
        a.due_date
            .cmp(&b.due_date)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    reminders
}

/// The UTC date of Unix milliseconds.
fn date_of(millis: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000))
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

/// `date` plus `months` calendar months (the day clamped to the month's length).
fn add_months(date: Date, months: u32) -> Date {
    shift_months(date, i64::from(months))
}

/// `date` minus `months` calendar months.
fn sub_months(date: Date, months: u32) -> Date {
    shift_months(date, -i64::from(months))
}

fn shift_months(date: Date, months: i64) -> Date {
    let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).unwrap_or(date.year());
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).unwrap_or(1))
        .unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn ids(reminders: &[Reminder]) -> Vec<(&str, ReminderStatus)> {
        reminders
            .iter()
            .map(|r| (r.rule_id.as_str(), r.status))
            .collect()
    }

    #[test]
    fn the_shipped_calendar_is_consistent() {
        let calendar = PreventionCalendar::french().unwrap();
        assert!(calendar.rules.len() > 30 && calendar.sources.len() == 3);
        for rule in &calendar.rules {
            assert_eq!(
                rule.group.is_some(),
                rule.kind == ReminderKind::Vaccination,
                "{}",
                rule.id
            );
            assert!(
                rule.until_months.is_none_or(|u| u > rule.at_months),
                "{}",
                rule.id
            );
            assert!(
                rule.every_months.is_some() != rule.needed.is_some(),
                "{}",
                rule.id
            );
        }
        let mut unique: Vec<&str> = calendar.rules.iter().map(|r| r.id.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), calendar.rules.len());
    }

    #[test]
    fn an_infant_gets_the_series_dose_by_dose() {
        let calendar = PreventionCalendar::french().unwrap();
        let birth = date!(2026 - 01 - 10);
        let at_3_months = reminders(&calendar, birth, Gender::Male, &[], date!(2026 - 04 - 15));
        let due: Vec<_> = ids(&at_3_months);
        assert!(due.contains(&("hexavalent-1", ReminderStatus::Due)));
        assert!(due.contains(&("hexavalent-2", ReminderStatus::Upcoming)));
        assert!(due.contains(&("ror-1", ReminderStatus::Upcoming)));
        assert!(!due.iter().any(|(id, _)| id.starts_with("dtp-")));
        let one_dose = [("dtcaphibhepb".to_owned(), date!(2026 - 03 - 12))];
        let after = reminders(
            &calendar,
            birth,
            Gender::Male,
            &one_dose,
            date!(2026 - 04 - 15),
        );
        assert!(!ids(&after).iter().any(|(id, _)| *id == "hexavalent-1"));
        assert!(ids(&after).contains(&("hexavalent-2", ReminderStatus::Upcoming)));
    }

    #[test]
    fn an_adult_woman_gets_boosters_and_screenings_on_time() {
        let calendar = PreventionCalendar::french().unwrap();
        let birth = date!(1975 - 06 - 01);
        let today = date!(2026 - 11 - 29);
        let none = reminders(&calendar, birth, Gender::Female, &[], today);
        let list = ids(&none);
        assert!(list.contains(&("cancer-sein", ReminderStatus::Overdue)));
        assert!(list.contains(&("cancer-colorectal", ReminderStatus::Overdue)));
        assert!(list.contains(&("cancer-col-hpv", ReminderStatus::Overdue)));
        assert!(list.contains(&("dtp-45", ReminderStatus::Overdue)));
        assert!(!list.iter().any(|(id, _)| *id == "grippe" || *id == "hpv-1"));
        let done = [
            ("cancer-sein".to_owned(), date!(2025 - 02 - 03)),
            ("dtp".to_owned(), date!(2021 - 01 - 20)),
        ];
        let later = reminders(&calendar, birth, Gender::Female, &done, today);
        let sein = later.iter().find(|r| r.rule_id == "cancer-sein").unwrap();
        assert_eq!(
            (sein.due_date.as_str(), sein.status),
            ("2027-02-03", ReminderStatus::Upcoming)
        );
        assert!(!ids(&later).iter().any(|(id, _)| *id == "dtp-45"));
        let man = reminders(&calendar, birth, Gender::Male, &[], today);
        assert!(
            !ids(&man)
                .iter()
                .any(|(id, _)| id.starts_with("cancer-sein") || id.starts_with("cancer-col-"))
        );
    }

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(add_months(date!(2024 - 01 - 31), 1), date!(2024 - 02 - 29));
        assert_eq!(add_months(date!(2024 - 11 - 15), 14), date!(2026 - 01 - 15));
        assert_eq!(sub_months(date!(2024 - 03 - 31), 13), date!(2023 - 02 - 28));
    }
}
