//! Error accumulation: every stage reports into one [`Errors`], so a
//! declaration with several mistakes gets all of them in one build.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// The errors found so far in one item.
#[derive(Default)]
pub struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an error (possibly itself several combined errors).
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(all) => all.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// An error under `span`.
    pub fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// An error under all of `tokens` (first to last token on stable Rust).
    pub fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn is_empty(&self) -> bool {
        self.combined.is_none()
    }

    /// Every error pushed, or `fallback` if none were (which would be a bug
    /// in the stage that gave up without saying why).
    pub fn into_error(self, fallback: impl FnOnce() -> syn::Error) -> syn::Error {
        self.combined.unwrap_or_else(fallback)
    }
}
