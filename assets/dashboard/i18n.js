// Chinese and English labels; `?lang=zh|en` overrides the server's default.
const params = new URLSearchParams(location.search);
const wanted = params.get("lang") || document.documentElement.dataset.lang || "zh";
export const lang = wanted === "en" ? "en" : "zh";
document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";

const TEXT = {
  zh: {
    "nav.overview": "概览", "nav.snapshots": "快照", "nav.scorecards": "绩效考核",
    "nav.alerts": "告警", "nav.connectors": "数据源",
    "loading": "加载中…", "error": "出错了", "none": "暂无数据",
    "today": "今日实时", "month": "本月累计", "target": "目标", "attainment": "达成率",
    "value": "数值", "state": "状态", "kpi": "指标", "score": "得分",
    "state.met": "已达成", "state.behind": "落后", "state.onpace": "进度正常", "state.firing": "告警中",
    "state.none": "无目标",
    "trend": "趋势", "days": "天", "target.line": "目标", "target.daily": "目标（月目标按日均分）",
    "more": "其他 {n} 项有目标的指标（{b} 项落后）",
    "elapsed": "本月已过 {p}", "tz": "时区", "currency": "币种", "as.of": "截至",
    "shop": "店铺", "all.shops": "全部店铺", "period": "周期", "day": "日", "month.kind": "月", "year": "年",
    "revision": "修订版本", "latest": "最新", "show": "查看", "download": "下载",
    "computed": "计算于", "person": "人员", "role": "岗位", "total": "总分", "grade": "等级",
    "bonus": "奖金系数", "weight": "权重", "missing": "缺少数据",
    "alerts.firing": "当前告警", "alerts.history": "最近通知", "silences": "静默规则",
    "rule": "规则", "since": "开始于", "threshold": "阈值", "channel": "渠道", "status": "状态",
    "created": "时间", "matchers": "匹配", "ends": "结束于", "comment": "备注", "scope": "范围",
    "job": "任务", "kind": "类型", "schedule": "计划", "last.run": "最近运行", "last.success": "最近成功",
    "failures": "失败次数", "rejects": "拒收记录", "next.run": "下次运行", "records": "记录数",
    "token.title": "需要访问令牌", "token.help": "请输入 kpid 配置 [server] token 中的令牌。",
    "token.wrong": "令牌不正确，请重新输入。", "token.save": "保存",
    "no.alerts": "没有正在触发的告警", "appeal": "申诉修订", "appeals": "申诉",
  },
  en: {
    "nav.overview": "Overview", "nav.snapshots": "Snapshots", "nav.scorecards": "Scorecards",
    "nav.alerts": "Alerts", "nav.connectors": "Connectors",
    "loading": "Loading…", "error": "Error", "none": "No data",
    "today": "Today so far", "month": "Month to date", "target": "Target", "attainment": "Attainment",
    "value": "Value", "state": "State", "kpi": "KPI", "score": "Score",
    "state.met": "Met", "state.behind": "Behind", "state.onpace": "On pace", "state.firing": "Firing",
    "state.none": "No target",
    "trend": "Trend", "days": "days", "target.line": "Target", "target.daily": "Target (month's share per day)",
    "more": "{n} more KPIs with a target ({b} behind)",
    "elapsed": "{p} of the month elapsed", "tz": "Time zone", "currency": "Currency", "as.of": "As of",
    "shop": "Shop", "all.shops": "All shops", "period": "Period", "day": "Day", "month.kind": "Month", "year": "Year",
    "revision": "Revision", "latest": "Latest", "show": "Show", "download": "Download",
    "computed": "Computed", "person": "Person", "role": "Role", "total": "Total", "grade": "Grade",
    "bonus": "Bonus coefficient", "weight": "Weight", "missing": "Missing data",
    "alerts.firing": "Current alerts", "alerts.history": "Recent notifications", "silences": "Silences",
    "rule": "Rule", "since": "Since", "threshold": "Threshold", "channel": "Channel", "status": "Status",
    "created": "When", "matchers": "Matchers", "ends": "Ends", "comment": "Comment", "scope": "Scope",
    "job": "Job", "kind": "Kind", "schedule": "Schedule", "last.run": "Last run", "last.success": "Last success",
    "failures": "Failures", "rejects": "Rejects", "next.run": "Next run", "records": "Records",
    "token.title": "Access token needed", "token.help": "Enter the token of [server] token in kpid's configuration.",
    "token.wrong": "That token was refused; enter it again.", "token.save": "Save",
    "no.alerts": "No alert is firing", "appeal": "revised on appeal", "appeals": "Appeals",
  },
};

export function t(key, vars = {}) {
  let s = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, v);
  return s;
}

let names = {};
export function setKpiNames(list) {
  names = Object.fromEntries(list.map((k) => [k.id, k]));
}
export function kpiName(id) {
  const k = names[id];
  if (!k) return id;
  return lang === "zh" ? k.name_zh : k.name_en;
}
export function kpiUnit(id) {
  return names[id]?.unit;
}
export function kpiSums(id) {
  return names[id]?.sums_over_days === true;
}
export function kpiDirection(id) {
  return names[id]?.direction;
}
