import { BarChart } from "echarts/charts";
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { SVGRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, SVGRenderer]);

export interface RateSeries {
  steps: string[];
  me: (number | null)[];
  team: (number | null)[];
  meLabel: string;
  teamLabel: string;
  label: string;
}

/** My conversion rates by funnel step against my team's (loaded only with the My day page). */
export default function DayChart({ steps, me, team, meLabel, teamLabel, label }: RateSeries) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const chart = echarts.init(box.current, undefined, { renderer: "svg" });
    const percent = (values: (number | null)[]) => values.map((value) => (value == null ? null : Math.round(value * 1000) / 10));
    chart.setOption({
      aria: { enabled: true, label: { description: label } },
      tooltip: { trigger: "axis", valueFormatter: (value: unknown) => (value == null ? "—" : `${value}%`) },
      legend: { data: [meLabel, teamLabel] },
      grid: { left: 40, right: 16, bottom: 32, top: 40 },
      xAxis: { type: "category", data: steps },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [
        { name: meLabel, type: "bar", data: percent(me), itemStyle: { color: "#0958d9" } },
        { name: teamLabel, type: "bar", data: percent(team), itemStyle: { color: "#8c8c8c" } },
      ],
    });
    const resize = () => chart.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.dispose();
    };
  }, [steps, me, team, meLabel, teamLabel, label]);
  return <div ref={box} className="chart-box" role="img" aria-label={label} />;
}
