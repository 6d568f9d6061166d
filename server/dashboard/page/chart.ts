/** How many samples a chart keeps: five minutes at one a second. */
export const CHART_SAMPLES = 300;

const COLORS = ["#e8590c", "#1971c2", "#2f9e44", "#9c36b5", "#e03131", "#0c8599", "#f08c00", "#5c940d"];

/**
 * A small line chart on a canvas: one line per node and one for their sum ("all"), the last
 * CHART_SAMPLES samples. Enough for live figures, with no library to load (uPlot would add
 * ~50 KB for zoom, cursors and axes this page does not use). The element keeps `data-latest`,
 * `data-peak` and `data-sum` (of the "all" line over the window) for tools and tests.
 */
export class LineChart {
  private readonly samples: Array<Map<string, number>> = [];
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private readonly colors = new Map<string, string>();

  constructor(readonly element: HTMLElement, private readonly format: (value: number) => string) {
    this.canvas = element.querySelector("canvas") as HTMLCanvasElement;
    this.legend = element.querySelector(".legend") as HTMLElement;
  }

  /** One sample: a value per node; "all" is their sum. */
  add(values: Map<string, number>): void {
    let all = 0;
    for (const value of values.values()) all += value;
    const sample = new Map(values);
    sample.set("all", all);
    this.samples.push(sample);
    if (this.samples.length > CHART_SAMPLES) this.samples.shift();
    const line = this.samples.map((s) => s.get("all") ?? 0);
    this.element.dataset.latest = String(all);
    this.element.dataset.peak = String(Math.max(0, ...line));
    this.element.dataset.sum = String(line.reduce((a, b) => a + b, 0));
    this.draw();
  }

  private colorOf(name: string): string {
    if (name === "all") return "#212529";
    let color = this.colors.get(name);
    if (!color) this.colors.set(name, (color = COLORS[this.colors.size % COLORS.length]));
    return color;
  }

  private draw(): void {
    const { canvas, samples } = this;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext("2d");
    if (!context || width === 0) return;
    context.scale(ratio, ratio);
    const names = [...new Set(samples.flatMap((sample) => [...sample.keys()]))];
    const peak = Math.max(1, ...samples.flatMap((sample) => [...sample.values()]));
    const x = (i: number) => (i / (CHART_SAMPLES - 1)) * width;
    const y = (value: number) => height - 2 - (value / peak) * (height - 14);
    const offset = CHART_SAMPLES - samples.length;
    context.font = "10px system-ui, sans-serif";
    context.fillStyle = "#868e96";
    context.fillText(this.format(peak), 2, 10);
    for (const name of names) {
      context.strokeStyle = this.colorOf(name);
      context.lineWidth = name === "all" ? 2 : 1;
      context.beginPath();
      samples.forEach((sample, i) => {
        const point = [x(offset + i), y(sample.get(name) ?? 0)] as const;
        if (i === 0) context.moveTo(...point);
        else context.lineTo(...point);
      });
      context.stroke();
    }
    const last = samples[samples.length - 1];
    this.legend.replaceChildren(
      ...names.map((name) => {
        const item = document.createElement("span");
        item.style.color = this.colorOf(name);
        item.textContent = `${name} ${this.format(last?.get(name) ?? 0)}`;
        return item;
      }),
    );
  }
}
