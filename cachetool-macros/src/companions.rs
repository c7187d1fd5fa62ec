//! The functions generated next to a `#[cached]` function: `{name}_invalidate`
//! and `{name}_refresh`, with its visibility, generics and parameters (and
//! `&self` for methods).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{parse_quote, Attribute, FnArg, Pat, ReturnType, Signature};

use crate::ast::Function;
use crate::attr::Options;
use crate::expand::{self, Call};

/// `fn {name}_invalidate(<params>) -> ::cachetool::Result<()>`.
pub(crate) fn invalidate(options: &Options, function: &Function<'_>) -> TokenStream {
    let sig = signature(function, Call::Invalidate);
    let body = expand::body(options, function, Call::Invalidate);
    companion(function, Call::Invalidate, &sig, body)
}

/// `fn {name}_refresh(<params>) -> <return type>`, with a copy of the body.
pub(crate) fn refresh(options: &Options, function: &Function<'_>) -> TokenStream {
    let sig = signature(function, Call::Refresh);
    let body = expand::body(options, function, Call::Refresh);
    companion(function, Call::Refresh, &sig, body)
}

/// Stand-ins for the companions, emitted next to the errors so that their
/// callers don't also fail with "cannot find function".
pub(crate) fn stubs(function: &Function<'_>) -> TokenStream {
    if function.async_trait.is_some() {
        return TokenStream::new();
    }
    let unreachable = quote!({ ::core::unreachable!() });
    let sig = signature(function, Call::Invalidate);
    let invalidate = companion(function, Call::Invalidate, &sig, unreachable.clone());
    // A `_refresh` with the same broken return type would repeat its errors.
    let refresh = match crate::valid::output_error(function) {
        None => {
            let sig = signature(function, Call::Refresh);
            companion(function, Call::Refresh, &sig, unreachable)
        }
        Some(_) => TokenStream::new(),
    };
    quote!(#invalidate #refresh)
}

fn companion(
    function: &Function<'_>,
    call: Call,
    sig: &Signature,
    body: TokenStream,
) -> TokenStream {
    let vis = &function.item.vis;
    let link = match function.receiver {
        Some(_) => format!("[`Self::{}`]", function.ident()),
        None => format!("[`{}`]", function.ident()),
    };
    let doc = match call {
        Call::Invalidate => format!("Drops the cached entry of {link} for these arguments."),
        Call::Refresh => {
            format!("Runs {link} for these arguments now, caches what it returns and returns it.")
        }
        Call::Compute => unreachable!("not a companion"),
    };
    // `#[cfg]` must follow the function; lint levels apply to the copied body.
    let attrs = function.outer_attrs().filter(|attr| match call {
        Call::Refresh => is_cfg(attr) || is_lint_level(attr),
        _ => is_cfg(attr),
    });
    quote! {
        #[doc = #doc]
        #(#attrs)*
        #[allow(unused_variables)]
        #vis #sig #body
    }
}

/// The companion's signature: renamed, `&self` for methods, pattern arguments
/// renamed as in the function; `_invalidate` returns `::cachetool::Result<()>`,
/// is never `unsafe` (it doesn't run the body) and drops `mut` from its
/// parameters (it doesn't change them).
fn signature(function: &Function<'_>, call: Call) -> Signature {
    let mut sig = function.signature();
    let suffix = match call {
        Call::Invalidate => "invalidate",
        _ => "refresh",
    };
    sig.ident = format_ident!("{}_{}", sig.ident, suffix, span = sig.ident.span());
    // An `async fn`'s companions are `async` too.
    sig.constness = None;
    sig.abi = None;
    sig.variadic = None;
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first_mut() {
        let span = receiver.self_token.span;
        *receiver = parse_quote!(&self);
        receiver.self_token.span = span;
    }
    // A variadic function's trailing comma would be left dangling.
    if sig.inputs.trailing_punct() {
        sig.inputs.pop_punct();
    }
    if call == Call::Invalidate {
        sig.unsafety = None;
        let output = quote_spanned!(sig.ident.span()=> ::cachetool::Result<()>);
        sig.output = ReturnType::Type(Default::default(), Box::new(parse_quote!(#output)));
        for input in &mut sig.inputs {
            if let FnArg::Typed(pat_type) = input {
                if let Pat::Ident(pat_ident) = &mut *pat_type.pat {
                    pat_ident.mutability = None;
                }
            }
        }
    }
    sig
}

fn is_cfg(attr: &Attribute) -> bool {
    attr.path().is_ident("cfg")
}

fn is_lint_level(attr: &Attribute) -> bool {
    ["allow", "expect", "warn", "deny", "forbid"]
        .iter()
        .any(|level| attr.path().is_ident(level))
}
