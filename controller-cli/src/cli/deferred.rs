//! Subcommands whose options clap builds only when they are needed.
//!
//! clap's derive builds every subcommand's options before it parses a word: for hs's twenty
//! subcommands and their hundreds of options, each help text naming its default and its key, that
//! was a good part of the start-up of every `hs` run, whichever command it ran. A subcommand
//! whose arguments are wrapped in [`Deferred`] gets them from clap's `Command::defer`: built when
//! that subcommand is the one parsed, or when help, completions or manual pages ask for them.
//!
//! (clap's derive has a `defer` attribute of its own; it cannot be switched off at run time,
//! which [`whole_command`] needs: clap makes the tree of `hs help …` from the subcommands as they
//! are when the top command is built, so completion scripts need every one built at once.)

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

use clap::builder::Resettable;
use clap::{ArgMatches, Args, Command, CommandFactory, FromArgMatches, Id};

use super::Cli;

thread_local! {
    /// Set while [`whole_command`] makes the tree: every subcommand built at once.
    static EAGER: Cell<bool> = const { Cell::new(false) };
}

/// hs's whole command tree with every subcommand's options in place, as completion scripts and
/// manual pages need it (clap makes the tree of `hs help …` from the subcommands as they are
/// when the top command is built, so deferred ones would be missing there).
pub fn whole_command() -> Command {
    /// Ends eager mode however the tree's making ends.
    struct Eager;
    impl Drop for Eager {
        fn drop(&mut self) {
            EAGER.set(false);
        }
    }
    EAGER.set(true);
    let _eager = Eager;
    Cli::command()
}

/// The arguments `T` of a subcommand, built by clap only once that subcommand is used.
#[derive(Debug, Clone)]
pub struct Deferred<T>(T);

impl<T> Deferred<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Deferred<T> {
    fn from(inner: T) -> Self {
        Deferred(inner)
    }
}

impl<T> Deref for Deferred<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Deferred<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(matches).map(Deferred)
    }
    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }
    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn group_id() -> Option<Id> {
        T::group_id()
    }
    fn augment_args(cmd: Command) -> Command {
        if EAGER.get() {
            return T::augment_args(cmd);
        }
        cmd.defer(|cmd| keeping_texts(cmd, T::augment_args))
    }
    fn augment_args_for_update(cmd: Command) -> Command {
        if EAGER.get() {
            return T::augment_args_for_update(cmd);
        }
        cmd.defer(|cmd| keeping_texts(cmd, T::augment_args_for_update))
    }
}

/// `augment(cmd)`, with the texts the subcommand's own attributes gave `cmd` kept. Undeferred,
/// clap adds the arguments first and the subcommand's texts after, so a doc comment on an
/// argument struct (or on one it flattens) never stands for the subcommand's; deferred, the
/// arguments come last, and this keeps that order's outcome. The derive sets `about` and
/// `long_about` of every documented subcommand (`long_about` to none for a one-paragraph doc),
/// so those two are put back as they were, none included; the help texts after the options
/// only where the subcommand set one.
fn keeping_texts(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    let after_help = cmd.get_after_help().cloned();
    let after_long_help = cmd.get_after_long_help().cloned();
    let mut cmd = augment(cmd)
        .about(Resettable::from(about))
        .long_about(Resettable::from(long_about));
    if let Some(text) = after_help {
        cmd = cmd.after_help(text);
    }
    if let Some(text) = after_long_help {
        cmd = cmd.after_long_help(text);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every subcommand's help, at every depth, short (`-h`) and long (`--help`).
    fn helps(mut cmd: Command) -> Vec<(String, String)> {
        fn walk(cmd: &mut Command, path: &str, out: &mut Vec<(String, String)>) {
            for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                out.push((format!("{path} -h"), sub.render_help().to_string()));
                out.push((format!("{path} --help"), sub.render_long_help().to_string()));
                walk(sub, &path, out);
            }
        }
        cmd.build();
        let mut out = Vec::new();
        walk(&mut cmd, "hs", &mut out);
        out
    }

    #[test]
    fn subcommands_are_built_only_when_needed() {
        let cmd = Cli::command();
        let cluster = cmd.find_subcommand("cluster").expect("hs cluster");
        assert_eq!(
            cluster.get_arguments().count(),
            0,
            "built before it was needed"
        );
        let cmd = whole_command();
        let cluster = cmd.find_subcommand("cluster").expect("hs cluster");
        assert!(cluster.get_arguments().count() > 50);
    }

    #[test]
    fn a_deferred_subcommand_once_built_is_the_one_built_at_once() {
        let (deferred, eager) = (helps(Cli::command()), helps(whole_command()));
        assert_eq!(deferred.len(), eager.len());
        assert!(deferred.len() > 50, "nested subcommands are compared too");
        for ((name, deferred), (_, eager)) in deferred.iter().zip(&eager) {
            assert_eq!(deferred, eager, "{name}");
        }
    }
}
