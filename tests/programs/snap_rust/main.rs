// Rust crashes for the snapshot tests (built with -C panic=abort, with and without -O):
// argv[1] "index" panics with an index out of bounds inside parse::header (inlined into main
// at -O), "unwrap" unwraps a None in parse::field (always inlined), anything else reads
// through a null pointer (SIGSEGV, no panic machinery).
mod parse {
    pub fn header(v: &[u32], i: usize) -> u32 {
        v[i] * 2
    }

    #[inline(always)]
    pub fn field(o: Option<u32>) -> u32 {
        o.unwrap() + 1
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let v = vec![1u32, 2, 3];
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    if mode == "index" {
        println!("{}", parse::header(&v, args.len() + 5));
    }
    if mode == "unwrap" {
        println!("{}", parse::field(None));
    }
    let p: *const u32 = std::ptr::null();
    println!("{}", unsafe { std::ptr::read_volatile(p) });
}
