import { BarChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, SVGRenderer]);

export interface Comparison {
  steps: string[];
  me: (number | null)[];
  team: (number | null)[];
  meLabel: string;
  teamLabel: string;
  label: string;
  /** The header of the steps' column in the table for screen readers. */
  stepLabel: string;
  /** Values are fractions shown as percentages (0..1 -> 0..100 %). */
  percent?: boolean;
}

function shown(value: number | null, percent: boolean | undefined): number | null {
  if (value == null) return null;
  return percent ? Math.round(value * 1000) / 10 : Math.round(value * 10) / 10;
}

/** Me against my team, one pair of bars per step (loaded only with the My day page). A table with the
 * same numbers follows the chart for screen readers. */
export default function DayChart({ steps, me, team, meLabel, teamLabel, label, stepLabel, percent }: Comparison) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const chart = echarts.init(box.current, undefined, { renderer: "svg" });
    const unit = percent ? "%" : "";
    chart.setOption({
      aria: { enabled: true, label: { description: label } },
      tooltip: { trigger: "axis", valueFormatter: (value: unknown) => (value == null ? "—" : `${value}${unit}`) },
      legend: { data: [meLabel, teamLabel] },
      grid: { left: 48, right: 16, bottom: 56, top: 40 },
      xAxis: { type: "category", data: steps, axisLabel: { interval: 0, rotate: steps.length > 4 ? 30 : 0 } },
      yAxis: { type: "value", max: percent ? 100 : undefined, axisLabel: { formatter: `{value}${unit}` } },
      series: [
        { name: meLabel, type: "bar", data: me.map((v) => shown(v, percent)), itemStyle: { color: "#0958d9" } },
        { name: teamLabel, type: "bar", data: team.map((v) => shown(v, percent)), itemStyle: { color: "#595959" } },
      ],
    });
    const resize = () => chart.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.dispose();
    };
  }, [steps, me, team, meLabel, teamLabel, label, percent]);
  const cell = (value: number | null) => {
    const v = shown(value, percent);
    return v == null ? "—" : `${v}${percent ? "%" : ""}`;
  };
  return (
    <figure className="chart-figure">
      <div ref={box} className="chart-box" role="img" aria-label={label} />
      <table className="visually-hidden">
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">{stepLabel}</th>
            <th scope="col">{meLabel}</th>
            <th scope="col">{teamLabel}</th>
          </tr>
        </thead>
        <tbody>
          {steps.map((step, index) => (
            <tr key={step}>
              <th scope="row">{step}</th>
              <td>{cell(me[index] ?? null)}</td>
              <td>{cell(team[index] ?? null)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
