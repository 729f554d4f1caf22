package devsim

import (
	"math/rand/v2"
	"sort"
)

// Synthetic Chinese names. Surnames follow their national frequency (2020
// census, top 100, weights in hundredths of a percent) with 林, 陈 and 黄
// raised a little, as in Fujian where the system Huiyan is modelled on runs;
// a few compound surnames (欧阳, 司马 …) give four-character names. Given
// names are one character (more often for older people) or two, from lists
// by gender. Customer names are masked with huiyan.MaskName before they are
// written; the full name exists only in memory while a row is built.

var surnames = []struct {
	name   string
	weight int
}{
	{"王", 710}, {"李", 700}, {"张", 670}, {"刘", 540}, {"陈", 600}, {"杨", 310}, {"黄", 300}, {"赵", 230},
	{"吴", 200}, {"周", 190}, {"徐", 140}, {"孙", 140}, {"马", 130}, {"朱", 120}, {"胡", 120}, {"郭", 110},
	{"何", 110}, {"林", 220}, {"罗", 90}, {"高", 90}, {"郑", 100}, {"梁", 80}, {"谢", 80}, {"宋", 70},
	{"唐", 70}, {"许", 60}, {"韩", 60}, {"冯", 60}, {"邓", 60}, {"曹", 60}, {"彭", 50}, {"曾", 50},
	{"肖", 50}, {"田", 50}, {"董", 50}, {"袁", 40}, {"潘", 40}, {"于", 40}, {"蒋", 40}, {"蔡", 50},
	{"余", 40}, {"杜", 40}, {"叶", 40}, {"程", 40}, {"苏", 40}, {"魏", 30}, {"吕", 30}, {"丁", 30},
	{"任", 30}, {"沈", 30}, {"姚", 30}, {"卢", 30}, {"姜", 30}, {"崔", 30}, {"钟", 30}, {"谭", 30},
	{"陆", 30}, {"汪", 30}, {"范", 30}, {"金", 30}, {"石", 30}, {"廖", 20}, {"贾", 20}, {"夏", 20},
	{"韦", 20}, {"付", 20}, {"方", 20}, {"白", 20}, {"邹", 20}, {"孟", 20}, {"熊", 20}, {"秦", 20},
	{"邱", 20}, {"江", 20}, {"尹", 20}, {"薛", 20}, {"闫", 20}, {"段", 20}, {"雷", 20}, {"侯", 20},
	{"龙", 20}, {"史", 20}, {"陶", 20}, {"黎", 20}, {"贺", 20}, {"顾", 20}, {"毛", 20}, {"郝", 20},
	{"龚", 20}, {"邵", 20}, {"万", 20}, {"钱", 20}, {"严", 20}, {"覃", 10}, {"武", 10}, {"戴", 10},
	{"莫", 10}, {"孔", 10}, {"向", 10}, {"汤", 10},
	{"欧阳", 5}, {"司马", 2}, {"上官", 2}, {"诸葛", 2}, {"司徒", 2}, {"东方", 1}, {"皇甫", 1}, {"夏侯", 1},
}

var (
	maleGiven = []string{
		"伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "辉", "刚", "平", "斌", "鹏", "波", "华",
		"飞", "峰", "建", "国", "志", "文", "俊", "浩", "宇", "轩", "博", "晨", "睿", "凯", "鑫", "宏",
		"海", "林", "东", "亮", "成", "龙", "松", "健", "德", "新", "翔", "航", "泽", "昊", "天", "嘉",
		"振", "永", "兴", "家", "毅", "锋", "荣", "彬", "逸", "铭", "辰", "钧",
	}
	femaleGiven = []string{
		"芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀", "玲", "燕", "婷", "雪", "琳", "慧", "颖",
		"倩", "洁", "萍", "红", "梅", "兰", "晶", "欣", "怡", "佳", "雨", "涵", "萱", "诗", "梦", "思",
		"彤", "悦", "瑶", "琪", "蕾", "薇", "月", "丹", "玉", "璐", "晓", "露", "妍", "莉", "菲", "凤",
		"英", "桂", "馨", "婉", "清", "宁",
	}
	surnameCum   []int // cumulative weights of surnames
	surnameTotal int
)

func init() {
	surnameCum = make([]int, len(surnames))
	for i, s := range surnames {
		surnameTotal += s.weight
		surnameCum[i] = surnameTotal
	}
}

// fullName draws a synthetic full name. Older people more often have a
// one-character given name.
func fullName(r *rand.Rand, male bool, age int) string {
	x := r.IntN(surnameTotal)
	s := surnames[sort.SearchInts(surnameCum, x+1)].name
	given := femaleGiven
	if male {
		given = maleGiven
	}
	single := 0.12
	if age >= 50 {
		single = 0.35
	}
	if r.Float64() < single {
		return s + given[r.IntN(len(given))]
	}
	return s + given[r.IntN(len(given))] + given[r.IntN(len(given))]
}
