# gnuplot script drawn by `bioprop reward-task`; edit and re-run: gnuplot learning_curves.gp
set terminal pngcairo size 900,560
set output 'learning_curves.png'
set datafile separator ','
set key outside right noenhanced
set logscale y
set xlabel 'trial'
set ylabel 'squared error of the predicted reward'
set title 'Reward-amount prediction (after Konishi et al. 2023); new odours from trial 400'
set arrow from 400,graph 0 to 400,graph 1 nohead dashtype 2
plot 'learning_curves.csv' using 1:3 with linespoints title 'bp', 'learning_curves.csv' using 1:4 with linespoints title 'fa', 'learning_curves.csv' using 1:5 with linespoints title 'fa_ex', 'learning_curves.csv' using 1:6 with linespoints title 'elm', 'learning_curves.csv' using 1:7 with linespoints title 'wp'
