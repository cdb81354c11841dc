package ui

import (
	"fmt"
	"net/http"

	"golang.org/x/text/language"
)

// Languages the pages are written in; the first is the fallback.
var supported = []language.Tag{language.English, language.Japanese}

// lang picks the page language: the user's setting when there is one,
// else the browser's Accept-Language, else English.
func lang(setting string, r *http.Request) string {
	matcher := language.NewMatcher(supported)
	prefs := []language.Tag{}
	if setting != "" {
		if t, err := language.Parse(setting); err == nil {
			prefs = append(prefs, t)
		}
	}
	if accept, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language")); err == nil {
		prefs = append(prefs, accept...)
	}
	_, i, _ := matcher.Match(prefs...)
	base, _ := supported[i].Base()
	return base.String()
}

// tr is the translation of one message; every visible string of the
// pages comes from catalogue, and TestCatalogueComplete checks each has
// both languages.
type tr struct{ en, ja string }

// t returns the message key in language l, formatted with args; an
// unknown key shows as itself, so a missing entry is visible rather than
// blank.
func t(l, key string, args ...any) string {
	m, ok := catalogue[key]
	if !ok {
		return key
	}
	s := m.en
	if l == "ja" && m.ja != "" {
		s = m.ja
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// catalogue holds every message: the customer pages' here, the operator
// pages' beside their code.
var catalogue = mergeMessages(pageMessages, fleetMessages, configMessages, auditMessages, ssoMessages, editMessages)

func mergeMessages(parts ...map[string]tr) map[string]tr {
	out := map[string]tr{}
	for _, p := range parts {
		for k, v := range p {
			if _, dup := out[k]; dup {
				panic("ui: message " + k + " is defined twice")
			}
			out[k] = v
		}
	}
	return out
}

var pageMessages = map[string]tr{
	"app.name":                 {"Hearth", "Hearth"},
	"nav.overview":             {"Overview", "概要"},
	"nav.devices":              {"Devices", "機器"},
	"nav.customers":            {"Customers", "顧客"},
	"nav.health":               {"Fleet health", "稼働状況"},
	"nav.history":              {"History", "変更履歴"},
	"nav.types":                {"Device types", "機器種別"},
	"nav.users":                {"Users", "ユーザー"},
	"nav.tokens":               {"API tokens", "API トークン"},
	"nav.audit":                {"Audit log", "操作ログ"},
	"nav.signout":              {"Sign out", "ログアウト"},
	"nav.skip":                 {"Skip to content", "本文へ移動"},
	"login.title":              {"Sign in", "ログイン"},
	"login.email":              {"E-mail", "メールアドレス"},
	"login.password":           {"Password", "パスワード"},
	"login.submit":             {"Sign in", "ログイン"},
	"login.sso":                {"Sign in with %s", "%s でログイン"},
	"login.or":                 {"or", "または"},
	"login.failed":             {"The e-mail or the password is wrong.", "メールアドレスまたはパスワードが違います。"},
	"login.limited":            {"Too many attempts. Wait a minute and try again.", "試行回数が多すぎます。1 分ほど待ってから再度お試しください。"},
	"login.sso_failed":         {"Sign-in through %s did not complete. Try again.", "%s でのログインが完了しませんでした。もう一度お試しください。"},
	"login.expired":            {"Your session ended. Sign in again.", "セッションが終了しました。もう一度ログインしてください。"},
	"noaccess.title":           {"No access", "アクセス権がありません"},
	"noaccess.body":            {"You signed in as %s, but this account has no access to Hearth. Ask your operator to add it.", "%s としてログインしましたが、このアカウントには Hearth へのアクセス権がありません。運用担当者に追加を依頼してください。"},
	"noaccess.again":           {"Sign in with another account", "別のアカウントでログイン"},
	"overview.title":           {"Overview", "概要"},
	"overview.empty":           {"No sites yet.", "サイトはまだありません。"},
	"site.devices":             {"%d devices", "機器 %d 台"},
	"site.online":              {"%d online", "%d 台オンライン"},
	"site.offline":             {"%d offline", "%d 台オフライン"},
	"site.attention":           {"Needs attention", "要確認"},
	"site.all_ok":              {"All devices online", "全機器オンライン"},
	"site.highest":             {"%s, highest", "%s（最大）"},
	"site.delta_t":             {"Supply–return difference", "往還温度差"},
	"site.mode":                {"Mode", "運転モード"},
	"site.state":               {"State", "状態"},
	"site.running":             {"running", "運転中"},
	"site.stopped":             {"stopped", "停止"},
	"mode.cooling":             {"cooling", "冷房"},
	"mode.heating":             {"heating", "暖房"},
	"mode.off":                 {"off", "停止"},
	"site.average":             {"%s, average", "%s（平均）"},
	"site.why.offline":         {"offline", "オフライン"},
	"site.why.co2":             {"CO2 %s ppm", "CO2 %s ppm"},
	"site.why.fault":           {"fault %s", "故障 %s"},
	"site.title":               {"Site %s", "サイト %s"},
	"device.col.name":          {"Device", "機器"},
	"device.col.type":          {"Type", "種類"},
	"device.col.status":        {"Status", "状態"},
	"device.col.readings":      {"Readings", "計測値"},
	"device.col.last_seen":     {"Last seen", "最終通信"},
	"device.online":            {"Online", "オンライン"},
	"device.offline":           {"Offline", "オフライン"},
	"device.never":             {"Never connected", "未接続"},
	"device.live":              {"Live values", "現在値"},
	"device.no_values":         {"No readings yet.", "計測値はまだありません。"},
	"device.chart":             {"Chart", "グラフ"},
	"device.range.custom":      {"Custom", "期間指定"},
	"device.range.apply":       {"Show", "表示"},
	"device.range.from":        {"From", "開始"},
	"device.range.to":          {"To", "終了"},
	"device.csv":               {"Download CSV", "CSV ダウンロード"},
	"device.reset_zoom":        {"Reset zoom", "ズーム解除"},
	"device.settings":          {"Settings", "設定"},
	"device.settings.none":     {"This device has no settings you can change.", "変更できる設定はありません。"},
	"device.settings.save":     {"Save", "保存"},
	"device.settings.readonly": {"Your access lets you read these settings, not change them.", "このアカウントでは設定を閲覧できますが、変更はできません。"},
	"device.settings.saved":    {"Saved. The device receives the new settings.", "保存しました。機器に新しい設定が送られます。"},
	"device.settings.range":    {"%s to %s", "%s ～ %s"},
	"device.settings.now":      {"Now: %s", "現在: %s"},
	"device.settings.wanted":   {"Requested: %s", "要求値: %s"},
	"device.settings.error":    {"Not saved: %s", "保存できませんでした: %s"},
	"device.history":           {"Change history", "変更履歴"},
	"device.history.none":      {"No changes recorded.", "変更履歴はありません。"},
	"device.history.when":      {"When", "日時"},
	"device.history.who":       {"Who", "変更者"},
	"device.history.what":      {"Change", "変更内容"},
	"device.attention":         {"Out of range: %s", "範囲外: %s"},
	"error.title":              {"Something went wrong", "エラーが発生しました"},
	"error.notfound":           {"Not found.", "見つかりません。"},
	"error.back":               {"Back to the overview", "概要に戻る"},
	"account.title":            {"Your account", "アカウント"},
	"account.language":         {"Language", "表示言語"},
	"account.lang_auto":        {"As the browser prefers", "ブラウザーの設定に従う"},
	"account.timezone":         {"Time zone", "タイムゾーン"},
	"account.zone_hint":        {"Empty: the server's zone (%s).", "空欄の場合はサーバーの設定（%s）。"},
	"account.save":             {"Save", "保存"},
	"account.saved":            {"Saved.", "保存しました。"},
	"account.password":         {"Change your password", "パスワードの変更"},
	"account.no_record":        {"Your access comes from your company's groups, so there is no account here to keep preferences in.", "所属グループによるアクセスのため、設定を保存するアカウントがありません。"},
	"account.bad_language":     {"Choose English or Japanese.", "英語または日本語を選んでください。"},
	"account.bad_zone":         {"%q is not a time zone; use a name such as Asia/Tokyo.", "%q はタイムゾーンではありません。Asia/Tokyo のような名前を入力してください。"},
	"password.title":           {"Choose a new password", "新しいパスワードの設定"},
	"password.current":         {"Current password", "現在のパスワード"},
	"password.new":             {"New password", "新しいパスワード"},
	"password.again":           {"New password again", "新しいパスワード（確認）"},
	"password.submit":          {"Change password", "パスワードを変更"},
	"password.hint":            {"At least 12 characters; a few unrelated words are easy to remember and hard to guess.", "12 文字以上。無関係な単語をいくつか並べると覚えやすく推測されにくくなります。"},
	"password.wrong":           {"The current password is wrong.", "現在のパスワードが違います。"},
	"password.short":           {"The new password needs at least %d characters.", "新しいパスワードは %d 文字以上にしてください。"},
	"password.mismatch":        {"The two new passwords differ.", "確認用のパスワードが一致しません。"},
	"password.same":            {"The new password must differ from the current one.", "現在と異なるパスワードにしてください。"},
	"metric.co2_ppm":           {"CO2", "CO2"},
	"metric.temperature_c":     {"Temperature", "温度"},
	"metric.humidity_pct":      {"Humidity", "湿度"},
	"metric.chw_supply_c":      {"Chilled water supply", "冷水送水温度"},
	"metric.chw_return_c":      {"Chilled water return", "冷水還水温度"},
	"metric.hw_supply_c":       {"Hot water supply", "温水送水温度"},
	"metric.hw_return_c":       {"Hot water return", "温水還水温度"},
	"metric.load_pct":          {"Load", "負荷率"},
	"metric.gas_m3h":           {"Gas", "ガス消費量"},
	"metric.outside_temp_c":    {"Outside temperature", "外気温度"},
	"metric.chw_setpoint_c":    {"Chilled water set-point", "冷水設定温度"},
	"metric.hw_setpoint_c":     {"Hot water set-point", "温水設定温度"},
	"metric.running":           {"Running", "運転"},
	"metric.fault":             {"Fault", "故障"},
}
