//! Checks of the options against the function. Errors only: nothing here
//! changes what is generated.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Ident, Lifetime, Type, TypeImplTrait, TypeReference};

use crate::ast::{Function, Output};
use crate::attr::{Options, Ttl};
use crate::errors::Errors;

/// Records every problem of `#[cached]` on `function`, in source order:
/// the attribute's, then the signature's.
pub(crate) fn check(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    check_skip(options, function, errors);
    check_ttl_closure(options, function, errors);
    check_fail_safe(options, function, errors);
    crate::revalidate::check(options, function, errors);
    check_name(options, errors);
    check_signature(function, errors);
    check_args(options, function, errors);
    if let Some((tokens, message)) = output_problem(function) {
        errors.error(tokens, message);
    }
    check_companions(options, function, errors);
    if let Some(off) = options.off.keyword() {
        errors.error(
            off,
            "`#[cached(off)]` only means something on a method of a `#[cached]` impl block",
        );
    }
}

/// A companion asked for by name must be one the function can have.
fn check_companions(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    let (Some(keyword), Some(companions)) =
        (options.companions.keyword(), options.companions.value())
    else {
        return;
    };
    if companions.listed && companions.many && function.item_args().next().is_none() {
        errors.error(
            keyword,
            "`many` needs key arguments: `_many` takes the key arguments of each call, and this function has none",
        );
    }
    if companions.listed && companions.many {
        if let Some(arg) = crate::many::unless_uses_an_item(options, function) {
            errors.error(
                &arg,
                format!("`many` can't be generated: `unless` uses the key argument `{arg}`, which `_many` takes with each item (and its body consumes), while it makes the closure once for all items; leave `many` out of `companions`"),
            );
        }
    }
    if companions.listed && function.async_trait.is_some() {
        errors.error(
            keyword,
            "an `#[async_trait]` method gets no companions: they would have to be members of the trait",
        );
    }
}

/// What kind of function it is: `const`, `extern`, variadic, `&mut self`.
fn check_signature(function: &Function<'_>, errors: &mut Errors) {
    let sig = &function.item.sig;
    if let Some(constness) = &sig.constness {
        errors.error(
            constness,
            "#[cached] can't be used on a `const fn`: a cache lookup can't run at compile time",
        );
    }
    // A variadic function always has an ABI: one error is enough.
    if let (Some(abi), None) = (&sig.abi, &sig.variadic) {
        errors.error(
            abi,
            "#[cached] can't be used on an `extern` function: remove the ABI, or cache a Rust function that it calls",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(variadic, "#[cached] can't be used on a variadic function");
    }
    if let Some(receiver) = function.receiver {
        if is_mut_ref(&receiver.ty) {
            errors.error(
                receiver,
                "#[cached] can't be used on a method taking `&mut self`: a cache hit would skip the changes the body makes to `self`; take `&self`",
            );
        }
    }
}

/// Arguments that can't go into the key: `&mut T` and `impl Trait`.
fn check_args(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    if options.key.keyword().is_some() {
        // `key = ...` replaces the arguments in the key: none is hashed.
        return;
    }
    for arg in function.args.iter().filter(|arg| arg.is_key()) {
        let ty = &*arg.pat_type.ty;
        let (this, skip_it) = match arg.name() {
            Some(name) => (
                format!("argument `{name}`"),
                format!("leave it out of the key with `skip({name})`"),
            ),
            None => (
                "this argument".to_owned(),
                "give it a name and leave it out of the key with `skip(name)`".to_owned(),
            ),
        };
        if is_mut_ref(ty) {
            let is = match ty {
                Type::Reference(_) => "is",
                _ => "holds",
            };
            errors.error(
                arg.pat_type,
                format!("{this} {is} a `&mut` reference: a cache hit would skip the changes the body makes to it; if that is intended, {skip_it}"),
            );
        } else if let Some(impl_trait) = find_impl_trait(ty) {
            errors.error(
                impl_trait,
                format!("{this} has an `impl Trait` type, which can't be part of the key: take a generic `T: Serialize` instead, or {skip_it}"),
            );
        }
    }
}

/// `skip(...)` must name arguments, each once, and means nothing with `key = ...`.
fn check_skip(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    if let (Some(_), Some(skip)) = (options.key.keyword(), options.skip.keyword()) {
        errors.error(
            skip,
            "`skip` has no effect with `key = ...`: the key is only that expression",
        );
    }
    let names: Vec<&Ident> = function.args.iter().filter_map(|arg| arg.name()).collect();
    for (index, skipped) in options.skipped().iter().enumerate() {
        if skipped == "self" {
            errors.error(
                skipped,
                "`self` is never part of the key unless `key = ...` uses it: no need to skip it",
            );
        } else if options.skipped()[..index].contains(skipped) {
            errors.error(skipped, format!("`{skipped}` is skipped twice"));
        } else if !names.contains(&skipped) {
            let message = if names.is_empty() {
                format!("`skip({skipped})`: there is no argument named `{skipped}`")
            } else {
                let names: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
                format!(
                    "`skip({skipped})`: there is no argument named `{skipped}`; the arguments are {}",
                    names.join(", ")
                )
            };
            errors.error(skipped, message);
        }
    }
}

/// The return type must be owned and nameable: no borrows, no `impl Trait`.
/// Gives the offending tokens and the message. Also used to decide whether
/// the fallback can copy the return type into `_refresh` and `_peek`.
pub(crate) fn output_problem(function: &Function<'_>) -> Option<(TokenStream, String)> {
    let ty = match function.output {
        Output::Unit => return None,
        Output::Value(ty) | Output::Result(ty) => ty,
    };
    let mut finder = OutputFinder { problem: None };
    finder.visit_type(ty);
    finder.problem
}

/// A `ttl` closure runs when the value is stored, on the value alone: it
/// can't use the arguments (they may be gone by then).
fn check_ttl_closure(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    let Some(Ttl::Closure(closure)) = options.ttl.value() else {
        return;
    };
    if let Some(arg) = function.unless_uses(closure, &function.arg_names()) {
        errors.error(
            &arg,
            format!("the `ttl` closure is given only the value about to be stored: it can't use the argument `{arg}`; put what the TTL depends on in the value"),
        );
    }
}

/// `fail_safe` answers an `Err` of the body: there must be one.
fn check_fail_safe(options: &Options, function: &Function<'_>, errors: &mut Errors) {
    let Some(keyword) = options.fail_safe.keyword() else {
        return;
    };
    if !matches!(function.output, Output::Result(_)) {
        errors.error(
            keyword,
            "`fail_safe` needs a function returning `Result`: it answers the body's `Err` with a value that expired recently",
        );
    }
}

/// `name` is the function's path in keys, where `:` separates parts and `@` the version.
fn check_name(options: &Options, errors: &mut Errors) {
    if let Some(name) = options.name.value() {
        let value = name.value();
        if value.is_empty() {
            errors.error(name, "`name` can't be empty");
        } else if value.contains([':', '@']) {
            errors.error(
                name,
                "`name` can't contain `:` or `@`, which separate the parts of a key; use `.`: `name = \"users.load\"`",
            );
        }
    }
}

/// `&mut T`, also inside another type (`Pin<&mut Self>`, `Option<&mut T>`).
fn is_mut_ref(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_type_reference(&mut self, reference: &'a TypeReference) {
            self.0 |= reference.mutability.is_some();
            self.visit_type(&reference.elem);
        }
        // `fn(&mut T)` is a pointer to a function, not a borrow.
        fn visit_type_bare_fn(&mut self, _: &'a syn::TypeBareFn) {}
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

fn find_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
    struct Finder<'a>(Option<&'a TypeImplTrait>);
    impl<'a> Visit<'a> for Finder<'a> {
        fn visit_type_impl_trait(&mut self, impl_trait: &'a TypeImplTrait) {
            self.0.get_or_insert(impl_trait);
        }
    }
    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// Finds the first borrow or `impl Trait` in a return type.
struct OutputFinder {
    problem: Option<(TokenStream, String)>,
}

impl OutputFinder {
    fn report(&mut self, tokens: impl ToTokens, message: &str) {
        if self.problem.is_none() {
            self.problem = Some((tokens.to_token_stream(), message.to_owned()));
        }
    }
}

impl<'a> Visit<'a> for OutputFinder {
    fn visit_type_reference(&mut self, reference: &'a TypeReference) {
        match &reference.lifetime {
            Some(lifetime) if lifetime.ident == "static" => self.visit_type(&reference.elem),
            _ => self.report(
                reference,
                "#[cached] can't return a borrow: the cached value outlives the call; return an owned type",
            ),
        }
    }

    fn visit_lifetime(&mut self, lifetime: &'a Lifetime) {
        if lifetime.ident != "static" {
            self.report(
                lifetime,
                &format!("#[cached] can't return a type that borrows for `{lifetime}`: cached values must be owned (`'static`)"),
            );
        }
    }

    fn visit_type_impl_trait(&mut self, impl_trait: &'a TypeImplTrait) {
        self.report(
            impl_trait,
            "#[cached] can't return `impl Trait`: the cached value needs a concrete type to be stored and read back",
        );
    }

    // A `fn(&str) -> &str` pointer has its own, higher-ranked lifetimes.
    fn visit_type_bare_fn(&mut self, _: &'a syn::TypeBareFn) {}
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::{parse_quote, ItemFn};

    use super::*;

    fn check_fn(attr: proc_macro2::TokenStream, item: ItemFn) -> Vec<String> {
        let mut errors = Errors::default();
        let options = crate::attr::parse(attr, &mut errors);
        let function = Function::new(&item, options.skipped());
        check(&options, &function, &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
        }
    }

    #[test]
    fn accepted() {
        let item = parse_quote! {
            fn f(&self, a: u32, _: &mut u8, db: &mut Db, x: impl Display, (b, c): (u8, u8)) -> Cow<'static, str> {}
        };
        assert_eq!(
            check_fn(quote!(skip(db, x), name = "a.b"), item),
            Vec::<String>::new()
        );
        // With `key = ...`, no argument is hashed: none needs skipping.
        let item = parse_quote!(
            fn f(self: Box<Self>, db: &mut Db, x: impl Display) -> Result<(), E> {}
        );
        assert_eq!(check_fn(quote!(key = 1), item), Vec::<String>::new());
    }

    #[test]
    fn mut_borrows_inside_types() {
        let item = parse_quote!(
            fn f(self: Pin<&mut Self>, a: Option<&mut u8>, g: fn(&mut u8)) {}
        );
        let errors = check_fn(quote!(), item);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`&mut self`"));
        assert!(errors[1].starts_with("argument `a` holds a `&mut` reference"));
    }

    #[test]
    fn one_error_per_return_type() {
        let item = parse_quote!(
            fn f<'a>(a: &'a str) -> &'a Cow<'a, str> {}
        );
        assert_eq!(check_fn(quote!(), item).len(), 1);
        let item = parse_quote!(
            fn f() -> fn(&str) -> &str {}
        );
        assert_eq!(check_fn(quote!(), item), Vec::<String>::new());
    }

    #[test]
    fn skip_errors() {
        let item = parse_quote!(
            fn f(a: u32, (b, c): (u8, u8)) {}
        );
        let errors = check_fn(quote!(skip(self, a, a, b)), item);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("`self` is never part of the key"));
        assert_eq!(errors[1], "`a` is skipped twice");
        assert_eq!(
            errors[2],
            "`skip(b)`: there is no argument named `b`; the arguments are `a`"
        );
    }

    #[test]
    fn a_ttl_closure_sees_only_the_value() {
        let item: ItemFn = parse_quote!(
            fn f(base: u64, other: u64) -> u64 {}
        );
        assert_eq!(
            check_fn(quote!(ttl = |v: &u64| lifetime(*v)), item.clone()),
            Vec::<String>::new()
        );
        let errors = check_fn(quote!(ttl = |v: &u64| lifetime(*v + base)), item);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("can't use the argument `base`"),
            "{errors:?}"
        );
    }

    #[test]
    fn fail_safe_needs_a_result() {
        let item: ItemFn = parse_quote!(
            fn f(n: u64) -> u64 {}
        );
        let errors = check_fn(quote!(ttl = 60, fail_safe = 3600), item);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("`fail_safe` needs a function returning `Result`"));
        let item: ItemFn = parse_quote!(
            fn f(n: u64) -> Result<u64, String> {}
        );
        assert_eq!(
            check_fn(quote!(ttl = 60, fail_safe = 3600), item),
            Vec::<String>::new()
        );
    }

    #[test]
    fn names() {
        let item: ItemFn = parse_quote!(
            fn f() {}
        );
        assert_eq!(
            check_fn(quote!(name = ""), item.clone()),
            ["`name` can't be empty"]
        );
        assert_eq!(check_fn(quote!(name = "a@b"), item).len(), 1);
    }
}
