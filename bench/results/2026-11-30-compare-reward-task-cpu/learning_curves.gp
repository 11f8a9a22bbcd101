# edit and re-run: gnuplot learning_curves.gp
set terminal pngcairo size 1000,600 noenhanced
set output 'learning_curves.png'
set datafile separator ','
set key top right
set grid
set logscale y
set style fill transparent solid 0.2 noborder
set xlabel 'trial'
set ylabel 'squared error of the predicted reward'
set title 'Reward-amount task (after Konishi et al. 2023): mean over seeds, min to max shaded; new odours from trial 400'
set arrow from 400, graph 0 to 400, graph 1 nohead dashtype 2
plot 'curves/1.csv' skip 1 using 1:3:4 with filledcurves lc 1 notitle, 'curves/1.csv' skip 1 using 1:2 with linespoints lc 1 title 'bp', 'curves/2.csv' skip 1 using 1:3:4 with filledcurves lc 2 notitle, 'curves/2.csv' skip 1 using 1:2 with linespoints lc 2 title 'fa', 'curves/3.csv' skip 1 using 1:3:4 with filledcurves lc 3 notitle, 'curves/3.csv' skip 1 using 1:2 with linespoints lc 3 title 'fa_ex', 'curves/4.csv' skip 1 using 1:3:4 with filledcurves lc 4 notitle, 'curves/4.csv' skip 1 using 1:2 with linespoints lc 4 title 'elm', 'curves/5.csv' skip 1 using 1:3:4 with filledcurves lc 5 notitle, 'curves/5.csv' skip 1 using 1:2 with linespoints lc 5 title 'wp'
