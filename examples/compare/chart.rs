//! The race's chart: median rounds/s of each contender against thread
//! count, as SVG.

use plotters::prelude::*;

/// Medians of rounds/s against thread count, both on log scales; the x axis
/// labelled at the thread counts measured, a dashed line where threads
/// start to outnumber cores, and the legend beside the plot. `series`: one
/// line per contender, its name and a median per thread count; the first
/// is drawn thickest.
pub(crate) fn draw(
    path: &std::path::Path,
    threads: &[usize],
    series: &[(&str, Vec<f64>)],
    cores: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let (lo, hi) = series
        .iter()
        .flat_map(|(_, medians)| medians)
        .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    // x = log2(threads), so that 2, 4, 8, 16 are evenly spaced and labelled.
    let xs: Vec<f64> = threads.iter().map(|&t| (t as f64).log2()).collect();
    let (min_x, max_x) = xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));

    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (plot, legend) = root.split_horizontally(720);
    let mut chart = ChartBuilder::on(&plot)
        .caption(
            format!("Barrier and Phaser rounds per second, median ({cores} cores; log scales)"),
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (min_x - 0.3)..(max_x + 0.3),
            ((lo / 2.0).max(0.1)..hi * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("threads")
        .y_desc("rounds/s")
        // Ticks at whole powers of two (2, 4, 8, 16): label those only.
        .x_labels(((max_x - min_x).round() as usize + 2).max(2))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                format!("{:.0}", x.exp2())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0e}"))
        .draw()?;
    // In the race's order (barrier.rs: CONTENDERS): Barrier, Phaser, std,
    // hurdles, spin, Mutex+Condvar.
    let colors = [
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        BLUE,
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        BLACK,
    ];
    // Where threads start to outnumber cores: between `cores` and the next
    // thread count measured.
    let cores_x = (cores as f64).log2() + 0.15;
    if cores_x < max_x {
        let dashes = (0..40).map(|i| {
            let y0 = (lo / 2.0).max(0.1) * (hi * 4.0 / (lo / 2.0).max(0.1)).powf(i as f64 / 40.0);
            let y1 = (lo / 2.0).max(0.1)
                * (hi * 4.0 / (lo / 2.0).max(0.1)).powf((i as f64 + 0.5) / 40.0);
            PathElement::new(vec![(cores_x, y0), (cores_x, y1)], BLACK.mix(0.5))
        });
        chart.draw_series(dashes)?;
        chart.draw_series(std::iter::once(Text::new(
            format!("threads > {cores} cores →"),
            (cores_x + 0.05, hi * 1.6),
            ("sans-serif", 14),
        )))?;
    }
    for (i, (name, medians)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let points: Vec<(f64, f64)> = xs.iter().copied().zip(medians.iter().copied()).collect();
        chart.draw_series(LineSeries::new(
            points.clone(),
            color.stroke_width(if i == 0 { 3 } else { 2 }),
        ))?;
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
        // The legend, beside the plot rather than over the data.
        let y = 60 + 28 * i as i32;
        legend.draw(&PathElement::new(
            vec![(10, y), (40, y)],
            color.stroke_width(3),
        ))?;
        legend.draw(&Text::new(*name, (48, y - 8), ("sans-serif", 15)))?;
    }
    root.present()?;
    Ok(())
}
