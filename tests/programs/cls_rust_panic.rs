// Rust panics, one per argv[1], for the classifier: built with -C panic=abort, std's panic
// handler prints the message then calls abort(). Edition 2015 (rustc's default): panic!("literal")
// goes through std::panicking::begin_panic.
use std::env;

fn pick(v: &[u32], i: usize) -> u32 {
    v[i]
}

fn divide(a: i32, b: i32) -> i32 {
    a / b
}

fn main() {
    let args: Vec<String> = env::args().collect();
    let what = args.get(1).map(|s| s.as_str()).unwrap_or("index");
    let n = args.len();
    let v = vec![1u32, 2, 3];
    match what {
        "index" => println!("{}", pick(&v, n + 4)),
        "div" => println!("{}", divide(10, (n as i32) - 2)),
        "none" => {
            let o: Option<u32> = if n > 5 { Some(1) } else { None };
            println!("{}", o.unwrap());
        }
        "err" => {
            let r: Result<u32, String> = if n > 5 {
                Ok(1)
            } else {
                Err(format!("bad input {}", n))
            };
            println!("{}", r.unwrap());
        }
        "expect" => {
            let o: Option<u32> = if n > 5 { Some(1) } else { None };
            println!("{}", o.expect("the config must have a port"));
        }
        "panic" => panic!("explicit panic with {} args", n),
        "static" => panic!("static message"),
        "slice" => println!("{:?}", &v[n..n + 7]),
        _ => {}
    }
}
