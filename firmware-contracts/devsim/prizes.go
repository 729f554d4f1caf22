package devsim

import (
	"bufio"
	"fmt"
	"io"
	"time"
)

// PrizesFile is the prize wheel table gen writes for HQ's import
// (huiyan-hub import -prizes; the format is hub/prizes').
const PrizesFile = "prizes.csv"

// prizesHeader is the header line of prizes.csv (hub/prizes.Header; the
// test parses what WritePrizes writes with hub/prizes).
const prizesHeader = "branch,prize_code,name_zh,name_en,weight,inventory,starts,ends"

// demoPrizes is every generated branch's wheel: weights per million, the
// stock for the whole campaign (0 for unlimited). A branch hands out a few
// hundred red packets in a season, a few dozen of the better prizes.
var demoPrizes = []struct {
	code, zh, en string
	weight       int
	stock        int
}{
	{"cash-8", "8元红包", "8 yuan red packet", 100_000, 500},
	{"cash-88", "88元红包", "88 yuan red packet", 5_000, 20},
	{"cup", "保温杯", "Thermos cup", 30_000, 100},
	{"points-500", "500积分", "500 reward points", 200_000, 0},
}

// PrizesCampaign is the campaign id of the tables generated with cfg.
func PrizesCampaign(cfg GenConfig) string {
	return "devsim-" + cfg.RefDay().Format(time.DateOnly)
}

// WritePrizes writes the prizes.csv of cfg to w: a prize table for every
// branch, one campaign from 30 days before the reference day for three
// years (so that a generated data set keeps a running wheel for as long as
// one is likely to be used), one spin a customer a day, new faces denied,
// four prizes and 谢谢参与 for the rest. It depends on the branch count
// and the reference day only.
func WritePrizes(cfg GenConfig, w io.Writer) error {
	ref := cfg.RefDay()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# Prize wheel (智惠转盘) of a synthetic data set, written by huiyan-devsim gen\n")
	fmt.Fprintf(bw, "campaign,%s\nstarts,%s\nends,%s\nspins_per_day,1\nunknown_customers,deny\nweight_scale,1000000\n%s\n",
		PrizesCampaign(cfg), ref.AddDate(0, 0, -30).Format(time.DateOnly), ref.AddDate(3, 0, -1).Format(time.DateOnly), prizesHeader)
	for i := range cfg.Branches {
		b := BranchID(i)
		for _, p := range demoPrizes {
			stock := "unlimited"
			if p.stock > 0 {
				stock = fmt.Sprint(p.stock)
			}
			fmt.Fprintf(bw, "%s,%s,%s,%s,%d,%s,,\n", b, p.code, p.zh, p.en, p.weight, stock)
		}
		fmt.Fprintf(bw, "%s,,谢谢参与,Thanks for playing,rest,unlimited,,\n", b)
	}
	return bw.Flush()
}
