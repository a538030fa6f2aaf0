//! How long rendering the whole source tree takes for 1,000 objects (release mode):
//! `cargo bench --bench generate`. The figure is recorded in the README.
use criterion::{criterion_group, criterion_main, Criterion};
use sfhooks::config::Overrides;

fn thousand_objects() -> sfhooks::config::Config {
    let objects = (0..1000).map(|i| format!("Object_{i:04}__c")).collect();
    let input = Overrides {
        objects: Some(objects),
        callback_url: Some("https://hooks.example.com/salesforce".into()),
        ..Overrides::default()
    };
    sfhooks::config::load(&input).expect("valid configuration")
}

fn bench_generate(c: &mut Criterion) {
    let config = thousand_objects();
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    group.bench_function("render 1000 objects", |b| {
        b.iter(|| sfhooks::render::render(&config).expect("renders"))
    });
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
